// The kernel table: one struct of function pointers per ISA (DESIGN.md).
//
// The table's contract, for every ISA:
// - Kernels know nothing about models or threads. The caller splits work into
//   [row_begin, row_end) ranges (output rows) and runs them on the thread pool.
// - Ternary results are exact int32 sums  y[t][r] = sum_j q[t][j] * W[r][j];
//   the scale  beta / s  is applied by the caller (BitLinear), never here.
// - Every SIMD entry equals the reference entry bit for bit.
#pragma once

#include <cstdint>

#include "kernels/aligned_buffer.h"
#include "kernels/formats.h"

namespace tern::kernels {

// The canonical in-memory ternary matrix (layout described in formats.h).
struct TernaryMatrix {
    int64_t rows = 0;         // out_features
    int64_t cols = 0;         // in_features
    int64_t padded_cols = 0;  // round_up(cols, kTernaryColAlign)
    float scale = 0.0f;       // beta: W = scale * W~
    AlignedBuffer codes;      // [rows, padded_cols / 4] 2-bit codes

    TernaryMatrix() = default;
    TernaryMatrix(int64_t rows_, int64_t cols_, float scale_);  // all weights 0
    // The same for a new shape, keeping the buffer when it is large enough
    // (a loader decoding matrix after matrix into one scratch matrix; the
    // buffer may then be longer than rows * padded_cols / 4 bytes).
    // fill = false leaves the codes as they were: for a caller that writes
    // every byte of every row itself.
    void reset(int64_t rows_, int64_t cols_, float scale_, bool fill = true);
    int64_t code_bytes() const { return rows * (padded_cols / 4); }
    uint8_t* row(int64_t r) { return codes.data() + r * (padded_cols / 4); }
    const uint8_t* row(int64_t r) const { return codes.data() + r * (padded_cols / 4); }
    int get(int64_t r, int64_t c) const { return int((row(r)[c / 4] >> (2 * (c % 4))) & 3) - 1; }
    void set(int64_t r, int64_t c, int w) {
        uint8_t& b = row(r)[c / 4];
        const int sh = 2 * int(c % 4);
        b = uint8_t((b & ~(3 << sh)) | ((w + 1) << sh));
    }
};

// The families of ternary kernels (issue: I2_S multiply-add, TL1/TL2 lookup).
enum class TernaryFamily : int { i2s = 0, tl1 = 1, tl2 = 2 };
inline constexpr int kTernaryFamilies = 3;
const char* family_name(TernaryFamily f);

// One matrix in a kernel's own layout, built once at load by `repack`.
struct PackedTernary {
    int64_t rows = 0;
    int64_t cols = 0;
    int64_t padded_cols = 0;  // activation rows are read up to here (zero-padded)
    float scale = 0.0f;
    AlignedBuffer data;
    int64_t param[4] = {0, 0, 0, 0};  // layout parameters the repack chose (tile sizes, ...)
};

// What one family of one ISA provides. Activations go through `prepare` once
// per BitLinear input (shared by q/k/v, or gate/up): I2_S keeps int8 plus
// per-token sums, TL1/TL2 build their lookup tables there.
struct TernaryKernels {
    PackedTernary (*repack)(const TernaryMatrix& m) = nullptr;
    // Bytes `prepare` writes for one token of `padded_cols` activations.
    int64_t (*prepared_bytes)(int64_t padded_cols) = nullptr;
    // q: [n, q_stride] int8, entries [cols, padded_cols) are zero.
    // out: n * prepared_bytes(padded_cols) bytes, 64-byte aligned.
    void (*prepare)(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) = nullptr;
    // y[t * y_stride + r] for t < n, row_begin <= r < row_end.
    void (*matmul)(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                   int64_t row_begin, int64_t row_end) = nullptr;
    // Optional (null: decode, then repack): `out` = repack(decode_i2s(...))
    // straight from an I2_S tensor's code bytes, whose checks (i2s_scale) the
    // caller has made. False, `out` unspecified, when it cannot: rows not
    // starting on a 128-element block, or a code 3 (the decoder says where).
    bool (*repack_i2s)(const uint8_t* codes, int64_t rows, int64_t cols, float scale, PackedTernary& out) = nullptr;
};

// The gated feed-forward activations (ffn_act_mul).
enum class Activation : int { relu2, silu, gelu_tanh };

struct KernelTable {
    const char* name = "";  // "ref", "avx2", "avx512", "avx512vnni", "neon", "neon_dotprod"

    // Per-row absmax int8 quantization (SPEC §3): gamma = max(max|x|, 1e-5),
    // s = 127 / gamma, q = clamp(round_half_even(x * s), -128, 127).
    // Writes q[t * q_stride + j] for j < cols, zeros for cols <= j < q_stride,
    // and scale[t] = s.
    void (*quantize_rows)(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,
                          float* scale) = nullptr;

    // Indexed by TernaryFamily; a family with null entries is not offered here.
    TernaryKernels ternary[kTernaryFamilies];

    // Full-precision matrix (F32, F16, BF16, Q8_0, Q6_K rows of `cols` elements,
    // `row_bytes` apart) times f32 activations: y[t * y_stride + r] = W[r] . x[t].
    void (*float_matmul)(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x,
                         int64_t n, int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin,
                         int64_t row_end) = nullptr;
    // One row of such a matrix to f32 (embedding lookup).
    void (*dequantize_row)(GgmlType type, const uint8_t* src, float* dst, int64_t cols) = nullptr;

    // Quantized output matrices (Q8_0, Q4_K, Q5_K, Q6_K) at memory speed (SPEC §2, arithmetic in ref.h):
    // qdot_prepare quantizes each f32 activation row once to int16 with one
    // scale per token (qdot_prepared_bytes(cols) per token, 64-byte aligned);
    // qdot_matmul runs integer dot products against the blocks as stored:
    // y[t * y_stride + r] ~ W[r] . x[t] for t < n, row_begin <= r < row_end.
    void (*qdot_prepare)(const float* x, int64_t n, int64_t cols, int64_t x_stride, uint8_t* out) = nullptr;
    void (*qdot_matmul)(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared,
                        int64_t n, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) = nullptr;

    // Attention (kernels/attention.inc: one source for every table, so the
    // same bits everywhere). Each output is one sum in index order from +0.0f.
    // Scores of n tokens against one block of keys stored transposed, row d
    // holding dimension d of kAttnKeyBlock consecutive keys:
    //   s[t * s_stride + p] = sum_{d < D} q[t * q_stride + d] * kt[d * kAttnKeyBlock + p],  p < keys <= kAttnKeyBlock.
    void (*attn_scores)(const float* q, int64_t n, int64_t q_stride, int64_t D, const float* kt, int64_t keys,
                        float* s, int64_t s_stride) = nullptr;
    // Probability-weighted values, keys one row each:
    //   out[t * o_stride + d] = (accumulate ? out[t * o_stride + d] : 0) + sum_{p < keys} a[t * a_stride + p] * v[p * v_stride + d].
    // (Calls over consecutive key ranges with accumulate continue one sum.)
    void (*attn_values)(const float* a, int64_t n, int64_t a_stride, const float* v, int64_t v_stride, int64_t keys,
                        int64_t D, float* out, int64_t o_stride, bool accumulate) = nullptr;
    // Per-token float steps of the forward pass (kernels/rowops.inc: one
    // source for every table, so the same bits everywhere).
    // RMSNorm of one row: out[j] = w[j] * (x[j] * inv), inv = float(1 / sqrt(ss / dim + eps)),
    // ss = sum of x^2 in double over 8 partial sums (element j into sum j % 8,
    // folded ((0+4)+(1+5))+((2+6)+(3+7)), the tail past the last 8 added after). out may alias x.
    void (*rmsnorm)(const float* x, const float* w, int64_t dim, float eps, float* out) = nullptr;
    // In-place softmax: x - max through exp_nonpositive (exactly 0 below e^-64),
    // the sum in double over 4 partial sums, each term times float(1 / sum).
    void (*softmax)(float* x, int64_t n) = nullptr;
    // Ternary sums to floats, y[r] = float(double(acc[r]) * k) for r < n
    // (k = beta / s), or y[r] += that.
    void (*scale_sums)(const int32_t* acc, int64_t n, double k, float* y, bool accumulate) = nullptr;
    // The gated FFN activation, out[j] = act(gate[j]) * up[j] (out may alias gate):
    // relu2 max(g, 0)^2; silu g·sigmoid(g); gelu_tanh g·sigmoid(2u), u = sqrt(2/pi)·(g + 0.044715·g^3);
    // g·sigmoid(z) evaluated as g·m / (1 + e), e = exp_nonpositive(-|z|), m = 1 for z >= 0 else e.
    void (*ffn_act_mul)(Activation act, const float* gate, const float* up, float* out, int64_t n) = nullptr;
};

// Prepared activations of qdot_*: per token a 64-byte header (the float scale s
// first), then int16 a[cols], zero-padded to 64 bytes, then int32 sums of a
// over each 32 elements (ceil(cols / 32) of them, for the Q4_K / Q5_K mins),
// zero-padded to 64 bytes. |a| <= kQdotMax.
inline constexpr int64_t kQdotHeader = 64;
inline constexpr int kQdotMax = 32767;
inline constexpr int64_t qdot_sums_offset(int64_t cols) { return kQdotHeader + (2 * cols + 63) / 64 * 64; }
inline constexpr int64_t qdot_prepared_bytes(int64_t cols) {
    return qdot_sums_offset(cols) + (4 * ((cols + 31) / 32) + 63) / 64 * 64;
}
// The types and row lengths qdot_matmul takes (whole blocks).
inline bool qdot_supports(GgmlType type, int64_t cols) {
    return (type == GgmlType::Q8_0 && cols % 32 == 0) ||
           ((type == GgmlType::Q6_K || type == GgmlType::Q4_K || type == GgmlType::Q5_K) && cols % 256 == 0);
}

// Keys per block of the transposed key layout attn_scores reads.
inline constexpr int64_t kAttnKeyBlock = 64;

// Every table this binary carries, best first; each ISA file exports one.
const KernelTable* table_ref();
#if defined(__x86_64__) || defined(_M_X64)
const KernelTable* table_avx2();
const KernelTable* table_avx512();
const KernelTable* table_avx512vnni();
const KernelTable* table_avxvnni();  // AVX2 + AVX-VNNI (VEX vpdpbusd), for CPUs without AVX-512
#endif
#if defined(__aarch64__)
const KernelTable* table_neon();
const KernelTable* table_neon_dotprod();
#endif

}  // namespace tern::kernels
