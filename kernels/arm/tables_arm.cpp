// The two arm64 kernel tables. Baseline armv8-a: table_neon_dotprod() is
// called (for its name) on CPUs without dotprod too; only its I2S matmul,
// in i2s_dotprod.cpp, needs SDOT. Everything else it shares with neon: SDOT
// does not help a table lookup, a quantizer or float math.
#include <cassert>

#include "kernels/arm/neon.h"
#include "kernels/ref/ref.h"

namespace tern::kernels {

namespace neon_dotprod {

void i2s_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    assert(w.padded_cols % 256 == 0 && w.padded_cols < (int64_t(1) << 20));
    i2s_matmul_raw(w.data.data(), w.padded_cols, prepared, n, y, y_stride, row_begin, row_end);
}

}  // namespace neon_dotprod

namespace {

KernelTable neon_table(const char* name, decltype(TernaryKernels::matmul) i2s_matmul) {
    KernelTable k;
    k.name = name;
    k.quantize_rows = neon::quantize_rows;
    k.ternary[int(TernaryFamily::i2s)] = {neon::i2s_repack, neon::i2s_prepared_bytes, neon::i2s_prepare, i2s_matmul};
    k.ternary[int(TernaryFamily::tl1)] = {neon::tl1_repack, neon::tl1_prepared_bytes, neon::tl1_prepare,
                                          neon::tl1_matmul};
    k.ternary[int(TernaryFamily::tl2)] = {neon::tl2_repack, neon::tl2_prepared_bytes, neon::tl2_prepare,
                                          neon::tl2_matmul};
    k.float_matmul = neon::float_matmul;
    k.dequantize_row = neon::dequantize_row;
    k.qdot_prepare = ref::qdot_prepare;  // once per token: not worth a SIMD copy
    k.qdot_matmul = neon::qdot_matmul;
    k.attn_scores = neon::attn_scores;
    k.attn_values = neon::attn_values;
    k.rmsnorm = neon::rmsnorm;
    k.softmax = neon::softmax;
    k.scale_sums = neon::scale_sums;
    k.ffn_act_mul = neon::ffn_act_mul;
    return k;
}

}  // namespace

const KernelTable* table_neon() {
    static const KernelTable t = neon_table("neon", neon::i2s_matmul);
    return &t;
}

const KernelTable* table_neon_dotprod() {
    static const KernelTable t = neon_table("neon_dotprod", neon_dotprod::i2s_matmul);
    return &t;
}

}  // namespace tern::kernels
