// The scalar reference kernels, one function per table entry, exposed so tests
// (and the SIMD engineers) can call each one directly. table_ref() in
// table_ref.cpp gathers them into the KernelTable.
//
// These are written for obviousness, not speed: plain loops in the order the
// math is written down in SPEC.md, integer sums in int32 (exact: |sum| <=
// 128 * cols < 2^31 for any real model), float sums in the order stated.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace tern::kernels::ref {

// SPEC §3 per-row activation quantization (see KernelTable::quantize_rows).
// Non-finite inputs are outside the contract; here a NaN gives q = 0 and an
// inf makes s = 0 for its row (never UB).
void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,
                   float* scale);

// A PackedTernary with m's rows, cols, padded_cols and scale, no data, param[]
// 0: where every repack starts (ref, x86 and arm layouts alike).
PackedTernary packed_header(const TernaryMatrix& m);

// ---- I2S family: the canonical codes as they are, int8 activations as they are.
PackedTernary i2s_repack(const TernaryMatrix& m);          // param[] unused (0)
int64_t i2s_prepared_bytes(int64_t padded_cols);           // round_up(padded_cols, 64)
void i2s_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);
void i2s_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);

// ---- TL1 family (T-MAC style lookup, SPEC §5): weights in pairs, each pair a
// 4-bit pattern index i = 3*(w0+1) + (w1+1) (0..8), two per byte, low nibble
// first, padded_cols/4 bytes per row. Per token, one table of 9 int16 per pair
// of activations: table[p*9 + i] = w0(i)*a[2p] + w1(i)*a[2p+1] (|entry| <= 256).
inline constexpr int kTl1Entries = 9;
void tl1_build_table(const int8_t* a, int64_t padded_cols, int16_t* table);       // padded_cols/2 * 9 entries
int32_t tl1_lookup_row(const uint8_t* idx_row, const int16_t* table, int64_t n_pairs);
PackedTernary tl1_repack(const TernaryMatrix& m);
int64_t tl1_prepared_bytes(int64_t padded_cols);
void tl1_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);
void tl1_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);

// ---- TL2 family: weights in triples, G = ceil(padded_cols / 3) groups per row
// (elements past padded_cols count as weight 0, activation 0). Pattern
// v = 9*(w0+1) + 3*(w1+1) + (w2+1) (0..26) folds by sign symmetry (-w is
// 26 - v) to index min(v, 26 - v) in 0..13 plus a sign bit (v > 13). Layout:
// an index plane (4 bits per group, low nibble first, param[1] bytes per row)
// for all rows, then a sign plane (1 bit per group, LSB first, param[2] bytes
// per row); param[0] = G. Per token, 14 int16 per group: the sums of the
// patterns 0..13 (|entry| <= 384); lookup negates when the sign bit is set.
inline constexpr int kTl2Entries = 14;
int64_t tl2_groups(int64_t padded_cols);
void tl2_build_table(const int8_t* a, int64_t padded_cols, int16_t* table);       // G * 14 entries
int32_t tl2_lookup_row(const uint8_t* idx_row, const uint8_t* sign_row, const int16_t* table, int64_t groups);
PackedTernary tl2_repack(const TernaryMatrix& m);
int64_t tl2_prepared_bytes(int64_t padded_cols);
void tl2_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);
void tl2_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);

// ---- full-precision weights (F32, F16, BF16, Q8_0, Q4_K, Q5_K, Q6_K). Other types throw tern::Error.
// The summation order is part of the contract, so SIMD tables can equal it bit
// for bit while reading at memory speed: each output keeps kFloatLanes = 16
// float partial sums, all +0.0f at first; for j = 0 .. cols-1 in order,
// acc[j % 16] += w[j] * x[j] (the product rounded to float, then the add: no
// FMA; ISO C++ mode, GCC does not contract), with w dequantized exactly as
// dequantize_row does. Then the lanes fold pairwise: acc[i] = acc[i] + acc[i+h]
// for i < h, h = 8, 4, 2, 1; the result is acc[0]. (A 16-float vector, two
// 8-float or four 4-float vectors, reduced by halves: what AVX-512, AVX2 and
// NEON do naturally.) dot_lanes is that dot product alone.
inline constexpr int kFloatLanes = 16;
float dot_lanes(const float* w, const float* x, int64_t cols);

// ---- quantized output matrices (Q8_0, Q4_K, Q5_K, Q6_K) x int16 activations (kernels.h: qdot_*).
// Activations, per token: gamma = max(max_j |x_j|, 1e-5), s = 32767 / gamma
// (float), a_j = clamp(round_half_even(x_j * s), -32767, 32767) as int16 (16
// bits: int8 activations move the golden models' logits ~50x past their
// tolerance), and sum_k = the int32 sum of a over elements 32k .. 32k + 31.
// Weights as stored: Q8_0 w = q (int8) per block of 32 with fp16 d; Q6_K
// w = scales[e / 16] * (q - 32) (an int16, |w| <= 4096) per block of 256 with
// fp16 d; Q4_K / Q5_K w = sc_j * q (q the 4- / 5-bit code, |w| <= 1953) per
// block of 256 with fp16 d, sub-block j = e / 32 (formats.h). Each output
// keeps kQdotLanes = 16 int32 lane sums per weight block: lane i sums
// w_e * a_e over the block's elements e with (e mod 32) / 2 = i (exact: at
// most 16 products of 4096 * 32767 < 2^31; what one pmaddwd per 32 elements
// gives). Then, per block in order, acc[i] += float(lane[i]) * d (product
// rounded, then the add; acc starts at +0.0f). Q4_K / Q5_K also keep one
// float macc (from +0.0f): per block in order, macc += float(msum) * dmin
// with the exact int32 msum = sum over j of m_j * sum_(8b + j) (|msum| <=
// 8 * 63 * 32 * 32767 < 2^31). The 16 accs fold by halves (8, 4, 2, 1) as
// dot_lanes does, and y = acc[0] / s, or (acc[0] - macc) / s.
inline constexpr int kQdotLanes = 16;
void qdot_prepare(const float* x, int64_t n, int64_t cols, int64_t x_stride, uint8_t* out);
void qdot_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared,
                 int64_t n, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end);

// ---- attention products (contract in kernels.h; code in kernels/attention.inc).
void attn_scores(const float* q, int64_t n, int64_t q_stride, int64_t D, const float* kt, int64_t keys, float* s,
                 int64_t s_stride);
void attn_values(const float* a, int64_t n, int64_t a_stride, const float* v, int64_t v_stride, int64_t keys,
                 int64_t D, float* out, int64_t o_stride, bool accumulate);

// ---- per-token float steps (contract in kernels.h; code in kernels/rowops.inc).
void rmsnorm(const float* x, const float* w, int64_t dim, float eps, float* out);
void softmax(float* x, int64_t n);
void scale_sums(const int32_t* acc, int64_t n, double k, float* y, bool accumulate);
void ffn_act_mul(Activation act, const float* gate, const float* up, float* out, int64_t n);

void float_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n,
                  int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end);
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t cols);

}  // namespace tern::kernels::ref
