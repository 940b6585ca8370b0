// The scalar reference kernels, one function per table entry, exposed so tests
// (and the SIMD engineers) can call each one directly. table_ref() in
// table_ref.cpp gathers them into the KernelTable.
//
// These are written for obviousness, not speed: plain loops in the order the
// math is written down in SPEC.md, integer sums in int32 (exact: |sum| <=
// 128 * cols < 2^31 for any real model), float sums in the order stated.
#pragma once

#include <cstdint>

#include "../kernels.h"

namespace tern::kernels::ref {

// SPEC §3 per-row activation quantization (see KernelTable::quantize_rows).
// Non-finite inputs are outside the contract; here a NaN gives q = 0 and an
// inf makes s = 0 for its row (never UB).
void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,
                   float* scale);

// ---- I2S family: the canonical codes as they are, int8 activations as they are.
PackedTernary i2s_repack(const TernaryMatrix& m);          // param[] unused (0)
int64_t i2s_prepared_bytes(int64_t padded_cols);           // round_up(padded_cols, 64)
void i2s_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);
void i2s_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);

// ---- full-precision weights (F32, F16, BF16, Q8_0, Q6_K). Other types throw tern::Error.
// Each output is one float accumulator summed over j = 0 .. cols-1 in order,
// acc += w[j] * x[j] with w dequantized exactly as dequantize_row does, no FMA
// (ISO C++ mode: GCC does not contract).
void float_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n,
                  int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end);
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t cols);

}  // namespace tern::kernels::ref
