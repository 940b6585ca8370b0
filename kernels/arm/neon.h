// The arm64 kernel tables, `neon` (armv8-a ASIMD) and `neon_dotprod`
// (armv8.2-a SDOT): declarations shared by the files of kernels/arm.
//
// How the files split (DESIGN.md, "kernel-dispatch pattern"):
// - *_neon.cpp and tables_arm.cpp: baseline armv8-a (ASIMD is part of it).
//   Repacking, activation preparation, TL1/TL2, quantize, the float kernels and
//   the KernelTable objects. neon_dotprod reuses all of these: SDOT only helps
//   the I2S multiply-add, and the baseline code runs on every arm64 CPU.
// - i2s_dotprod.cpp: the SDOT I2S matmul, compiled with
//   -march=armv8.2-a+dotprod (CMakeLists.txt, by file name). It is a hot loop
//   over raw pointers that uses no STL, so no inline function instantiated with
//   dotprod flags can be picked by the linker for baseline code.
//
// Layouts (built by i2s_neon.cpp / tl_neon.cpp, read by the matmul loops):
//
// I2S: the rows of the canonical matrix, padded_cols / 4 bytes each, but each
//   chunk of 64 columns (16 bytes) reordered: byte i, bits 2s..2s+1, holds the
//   code c = w + 1 of column 64*chunk + 16*s + i. So `(v >> 2s) & 3` on a
//   loaded chunk gives 16 consecutive columns' codes, lined up with a plain
//   16-byte load of the activations. param[0] = 64 (the chunk).
//   Prepared activations (per token, i2s_prepared_bytes apart): the int8 row
//   (padded_cols bytes), then the int32 sum of the row, then padding to 64
//   bytes. Codes are unsigned, so sum q*w = sum q*c - sum q.
//
// TL1: tiles of 16 rows (rows past the matrix have weight 0). P = padded_cols
//   / 2 pairs. Per tile P/2 blocks of 16 bytes: block pc, byte i = the pattern
//   index 3*(w0+1) + (w1+1) of pair 2pc of tile row i in the low nibble, of pair
//   2pc+1 in the high nibble. param[0] = 16, param[1] = tiles, param[2] = bytes
//   per tile (4 * padded_cols).
//   Prepared table (per token): per pair 32 bytes: the low bytes of the 16
//   int16 entries (9 used as in ref::tl1_build_table, the rest 0), then their
//   high bytes. A lookup is two vqtbl1q_u8 (low, high byte planes).
//
// TL2: the same 16-row tiles. G = ceil(padded_cols / 3) groups, padded to
//   Gp = round_up(G, 32) (extra groups: weight 0, activation 0). Per tile, per
//   block of 32 groups, 320 bytes: 16 index vectors (vector k, byte i: the
//   folded index of group 2k in the low nibble, of group 2k+1 in the high
//   nibble, for tile row i), then 4 sign vectors (vector o, byte i, bit b: the
//   sign of group 8o+b of tile row i). param[0] = 16, param[1] = tiles,
//   param[2] = bytes per tile, param[3] = Gp.
//   Prepared table (per token), per group 64 bytes: the low bytes of entries
//   0..13 (then 2 zero bytes), the low bytes of their negatives (then 2 zero
//   bytes), then the high bytes of both halves in the same order. The index
//   with the sign in bit 4 picks entry or negative with one vqtbl2q_u8 per
//   byte plane.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace tern::kernels {

namespace neon {

// The int8 multiply-add peak probe (bench/, tern bench --probes): `iters`
// iterations of independent chains, no memory traffic; returns the checksum
// probe_neon.cpp states; int8_peak_probe_macs(iters) counts the multiply-adds.
int64_t int8_peak_probe(int64_t iters, int32_t seed);
int64_t int8_peak_probe_macs(int64_t iters);

void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,
                   float* scale);

inline constexpr int64_t kI2sChunk = 64;
PackedTernary i2s_repack(const TernaryMatrix& m);
int64_t i2s_prepared_bytes(int64_t padded_cols);  // padded_cols + 64
void i2s_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);
void i2s_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);

inline constexpr int kTlTileRows = 16;
inline constexpr int64_t kTl2GroupBlock = 32;
PackedTernary tl1_repack(const TernaryMatrix& m);
int64_t tl1_prepared_bytes(int64_t padded_cols);
void tl1_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);
void tl1_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);
PackedTernary tl2_repack(const TernaryMatrix& m);
int64_t tl2_padded_groups(int64_t padded_cols);  // Gp
int64_t tl2_prepared_bytes(int64_t padded_cols);
void tl2_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);
void tl2_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);

// The TL table build alone, one token's table in the layout above (DESIGN.md:
// build and lookup are tested separately, the lookup through tl*_matmul over a
// table converted from ref's).
void tl1_build_table(const int8_t* a, int64_t padded_cols, uint8_t* table);
void tl2_build_table(const int8_t* a, int64_t padded_cols, uint8_t* table);
// Tables in this layout from / to the reference layout (ref.h), for those tests.
void tl1_table_from_ref(const int16_t* ref_table, int64_t padded_cols, uint8_t* out);
int16_t tl1_table_entry(const uint8_t* table, int64_t pair, int idx);
void tl2_table_from_ref(const int16_t* ref_table, int64_t padded_cols, uint8_t* out);
int16_t tl2_table_entry(const uint8_t* table, int64_t group, int idx);  // idx 0..13, +16 for the negative

void float_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n,
                  int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end);
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t cols);
void qdot_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared, int64_t n,
                 float* y, int64_t y_stride, int64_t row_begin, int64_t row_end);
void attn_scores(const float* q, int64_t n, int64_t q_stride, int64_t D, const float* kt, int64_t keys, float* s,
                 int64_t s_stride);
void attn_values(const float* a, int64_t n, int64_t a_stride, const float* v, int64_t v_stride, int64_t keys,
                 int64_t D, float* out, int64_t o_stride, bool accumulate);
void rmsnorm(const float* x, const float* w, int64_t dim, float eps, float* out);
void softmax(float* x, int64_t n);
void scale_sums(const int32_t* acc, int64_t n, double k, float* y, bool accumulate);
void ffn_act_mul(Activation act, const float* gate, const float* up, float* out, int64_t n);

}  // namespace neon

namespace neon_dotprod {

// i2s_dotprod.cpp: the neon I2S layout and prepared activations, SDOT inner loops.
void i2s_matmul_raw(const uint8_t* codes, int64_t padded_cols, const uint8_t* prepared, int64_t n, int32_t* y,
                    int64_t y_stride, int64_t row_begin, int64_t row_end);
void i2s_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);

// The same probe with SDOT (probe_dotprod.cpp): only where the CPU has dotprod.
int64_t int8_peak_probe(int64_t iters, int32_t seed);
int64_t int8_peak_probe_macs(int64_t iters);

}  // namespace neon_dotprod

}  // namespace tern::kernels
