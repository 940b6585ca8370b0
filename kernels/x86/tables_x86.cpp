// The x86 kernel tables. Baseline code on purpose: dispatch.cpp calls every
// table_*() to list it (tern info) even on CPUs that cannot run it, so building
// a table must not execute a single wide-vector instruction. Only the function
// pointers point into the ISA files.
//
//   avx2        AVX2 + FMA + F16C (Haswell, Zen 1+): pmaddubsw I2S, pshufb TL1/TL2
//               (and the I2S repack straight from I2_S files, every x86 table)
//   avxvnni     avx2 + AVX-VNNI (Alder Lake and later cores without AVX-512,
//               Zen 5): VEX vpdpbusd I2S, the rest from avx2
//   avx512      AVX-512 F+BW+VL(+DQ) (Skylake-X, Zen 4+): 512-bit pmaddubsw I2S,
//               512-bit pshufb TL1/TL2, 512-bit float
//   avx512vnni  avx512 + AVX512-VNNI (Cascade Lake, Ice Lake, Zen 4+): vpdpbusd
//               I2S, the rest from avx512
#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace tern::kernels {

namespace {

PackedTernary i2s_repack_256(const TernaryMatrix& m) { return x86::i2s_repack(m, kI2sTileRows256); }
PackedTernary i2s_repack_512(const TernaryMatrix& m) { return x86::i2s_repack(m, kI2sTileRows512); }
bool i2s_from_file_256(const uint8_t* codes, int64_t rows, int64_t cols, float scale, PackedTernary& out) {
    return avx2::i2s_repack_from_i2s(codes, rows, cols, scale, kI2sTileRows256, out);
}
bool i2s_from_file_512(const uint8_t* codes, int64_t rows, int64_t cols, float scale, PackedTernary& out) {
    return avx2::i2s_repack_from_i2s(codes, rows, cols, scale, kI2sTileRows512, out);
}
PackedTernary tl1_repack_256(const TernaryMatrix& m) { return x86::tl1_repack(m, kTlTileRows256); }
PackedTernary tl1_repack_512(const TernaryMatrix& m) { return x86::tl1_repack(m, kTlTileRows512); }
PackedTernary tl2_repack_256(const TernaryMatrix& m) { return x86::tl2_repack(m, kTlTileRows256); }
PackedTernary tl2_repack_512(const TernaryMatrix& m) { return x86::tl2_repack(m, kTlTileRows512); }

}  // namespace

const KernelTable* table_avx2() {
    static const KernelTable t = [] {
        KernelTable k;
        k.name = "avx2";
        k.quantize_rows = avx2::quantize_rows;
        k.ternary[int(TernaryFamily::i2s)] = {i2s_repack_256, x86::i2s_prepared_bytes_biased,
                                              x86::i2s_prepare_biased, avx2::i2s_matmul, i2s_from_file_256};
        k.ternary[int(TernaryFamily::tl1)] = {tl1_repack_256, x86::tl1_prepared_bytes, avx2::tl1_prepare,
                                              avx2::tl1_matmul};
        k.ternary[int(TernaryFamily::tl2)] = {tl2_repack_256, x86::tl2_prepared_bytes, avx2::tl2_prepare,
                                              avx2::tl2_matmul};
        k.float_matmul = avx2::float_matmul;
        k.dequantize_row = avx2::dequantize_row;
        k.qdot_prepare = ref::qdot_prepare;  // once per token: not worth a SIMD copy
        k.qdot_matmul = avx2::qdot_matmul;
        k.attn_scores = avx2::attn_scores;
        k.attn_values = avx2::attn_values;
        k.rmsnorm = avx2::rmsnorm;
        k.softmax = avx2::softmax;
        k.scale_sums = avx2::scale_sums;
        k.ffn_act_mul = avx2::ffn_act_mul;
        return k;
    }();
    return &t;
}

const KernelTable* table_avxvnni() {
    static const KernelTable t = [] {
        KernelTable k = *table_avx2();
        k.name = "avxvnni";
        // vpdpbusd takes the codes as its unsigned operand, so no biased copy
        // of the activations (avx2's expanded prefill): the plain layout.
        TernaryKernels& i2s = k.ternary[int(TernaryFamily::i2s)];
        i2s.prepared_bytes = x86::i2s_prepared_bytes;
        i2s.prepare = x86::i2s_prepare;
        i2s.matmul = avxvnni::i2s_matmul;
        k.qdot_matmul = avxvnni::qdot_matmul;
        return k;
    }();
    return &t;
}

const KernelTable* table_avx512() {
    static const KernelTable t = [] {
        KernelTable k;
        k.name = "avx512";
        k.quantize_rows = avx512::quantize_rows;
        k.ternary[int(TernaryFamily::i2s)] = {i2s_repack_512, x86::i2s_prepared_bytes, x86::i2s_prepare,
                                              avx512::i2s_matmul, i2s_from_file_512};
        k.ternary[int(TernaryFamily::tl1)] = {tl1_repack_512, x86::tl1_prepared_bytes, avx512::tl1_prepare,
                                              avx512::tl1_matmul};
        k.ternary[int(TernaryFamily::tl2)] = {tl2_repack_512, x86::tl2_prepared_bytes, avx512::tl2_prepare,
                                              avx512::tl2_matmul};
        k.float_matmul = avx512::float_matmul;
        k.dequantize_row = avx512::dequantize_row;
        k.qdot_prepare = ref::qdot_prepare;  // once per token: not worth a SIMD copy
        k.qdot_matmul = avx512::qdot_matmul;
        k.attn_scores = avx512::attn_scores;
        k.attn_values = avx512::attn_values;
        k.rmsnorm = avx512::rmsnorm;
        k.softmax = avx512::softmax;
        k.scale_sums = avx512::scale_sums;
        k.ffn_act_mul = avx512::ffn_act_mul;
        return k;
    }();
    return &t;
}

const KernelTable* table_avx512vnni() {
    static const KernelTable t = [] {
        KernelTable k = *table_avx512();
        k.name = "avx512vnni";
        k.ternary[int(TernaryFamily::i2s)].matmul = avx512vnni::i2s_matmul;
        k.qdot_matmul = avx512vnni::qdot_matmul;
        return k;
    }();
    return &t;
}

}  // namespace tern::kernels
