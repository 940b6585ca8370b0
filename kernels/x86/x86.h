// The x86 kernel tables: declarations shared by the per-ISA files.
//
// How the files split (DESIGN.md, "kernel-dispatch pattern"):
// - layout_x86.cpp, tables_x86.cpp: baseline x86-64. Load-time repacking,
//   activation preparation that is not hot, and the KernelTable objects
//   themselves. Everything that builds C++ objects (PackedTernary, AlignedBuffer,
//   KernelTable) lives here, so no inline function instantiated with wide-vector
//   flags can be picked by the linker for baseline code, and table_avx512()
//   can be called (for its name) on a CPU without AVX-512.
// - *_avx2.cpp, *_avxvnni.cpp, *_avx512.cpp, *_avx512vnni.cpp: only hot loops
//   over raw pointers, each in its own namespace, compiled with exactly that
//   ISA's flags by CMakeLists.txt. They use no STL.
//
// Layouts (built by layout_x86.cpp, read by the ISA files):
//
// I2S, tile of R rows (R = 8 for 256-bit tables, 16 for 512-bit ones):
//   param[0] = R, param[1] = number of tiles ceil(rows / R), param[2] = bytes
//   per tile = R * padded_cols / 4. Tile i holds rows [i*R, i*R + R) (rows past
//   the matrix have weight 0). Inside a tile, column block kb (16 columns) is
//   R*4 bytes at kb*R*4: byte (row*4 + kk), bits 2g..2g+1, is the code (w + 1)
//   of column kb*16 + 4g + kk. So `(v >> 2g) & 3` on a loaded block gives, in
//   each 32-bit lane, one row's four codes for columns kb*16+4g .. +3: exactly
//   the operand vpdpbusd / pmaddubsw want against a broadcast of four int8
//   activations.
//   Prepared activations (per token, i2s_prepared_bytes apart): the int8 row,
//   zero-padded to round_up(padded_cols, 64), then the int32 sum of the row,
//   then padding to 64 bytes. Codes are unsigned (c = w + 1), so
//   sum q*w = sum q*c - sum q. The tables whose prefill reads expanded weights
//   (kI2sExpand, i2s_kernel.inc) prepare with i2s_prepare_biased: the same,
//   then the row again as unsigned bytes q + 128, zero-padded to
//   round_up(padded_cols, 64) (i2s_prepared_bytes_biased apart).
//
// TL1, tile of R rows (R = 32 for 256-bit, 64 for 512-bit): P = padded_cols/2
//   pairs. Per tile, P/2 blocks of R bytes; block pc, byte b: low nibble = the
//   pattern index 3*(w0+1) + (w1+1) of pair 2pc, high nibble of pair 2pc+1, for
//   row tl_row_of_byte(b, R). That permutation makes punpcklbw / punpckhbw of
//   the two looked-up byte planes come out as rows [0, R/2) and [R/2, R) in
//   order. param[0] = R, param[1] = tiles, param[2] = bytes per tile.
//   Prepared table (per token): per pair 32 bytes: the low bytes of the 16
//   int16 entries (9 used, rest 0), then their high bytes.
//
// TL2, same tiles: G = ceil(padded_cols/3) groups, G2 = round_up(G, 2). Per
//   tile: an index plane of G2/2 blocks of R bytes (groups 2gp, 2gp+1 in the low
//   / high nibble, rows permuted as TL1), then a sign plane of G2 blocks of R/8
//   bytes (bit r = the sign of tile row r, natural order), padded so tiles
//   stay 64-byte aligned. param[0] = R,
//   param[1] = tiles, param[2] = bytes per tile, param[3] = G2.
//   Prepared table per group: 32 bytes (low bytes of the 14 entries, then high).
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

// The constraint that ties a vector to a register in an empty asm (a compiler
// barrier that keeps a loop or a load where it is). In tests/x86_emulated the
// 512-bit types are SIMDe structs (its simde_avx512.h), which live in memory.
#if defined(TERN_SIMDE_AVX512)
#define TERN_VEC_IN_REG "+m"
#else
#define TERN_VEC_IN_REG "+v"
#endif

namespace tern::kernels {

// ---------------------------------------------------------------- baseline helpers
namespace x86 {

// f.template operator()<T>() with T = min(count, TT), count >= 1: a tile's
// token count known at run time as the template argument its loops unroll by.
template <int TT, class F>
inline void with_tokens(int64_t count, F&& f) {
    if constexpr (TT > 1)
        if (count < TT) return with_tokens<TT - 1>(count, f);
    f.template operator()<TT>();
}

PackedTernary i2s_repack(const TernaryMatrix& m, int tile_rows);
int64_t i2s_prepared_bytes(int64_t padded_cols);
inline int64_t i2s_sum_offset(int64_t padded_cols) { return round_up(padded_cols, 64); }
void i2s_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);
int64_t i2s_prepared_bytes_biased(int64_t padded_cols);
void i2s_prepare_biased(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);

// Tile row held by byte b of a TL index block (see above).
inline int tl_row_of_byte(int b, int tile_rows) {
    const int lane = b / 16, j = b % 16;
    return j < 8 ? lane * 8 + j : tile_rows / 2 + lane * 8 + (j - 8);
}
PackedTernary tl1_repack(const TernaryMatrix& m, int tile_rows);
int64_t tl1_prepared_bytes(int64_t padded_cols);
PackedTernary tl2_repack(const TernaryMatrix& m, int tile_rows);
int64_t tl2_groups_even(int64_t padded_cols);
int64_t tl2_prepared_bytes(int64_t padded_cols);

// Tables in the x86 layout from / to the reference layout (tests build and
// look up as separate steps: ref build -> x86 lookup, x86 build -> ref entries).
void tl1_table_from_ref(const int16_t* ref_table, int64_t padded_cols, uint8_t* out);
int16_t tl1_table_entry(const uint8_t* table, int64_t pair, int idx);
void tl2_table_from_ref(const int16_t* ref_table, int64_t padded_cols, uint8_t* out);
int16_t tl2_table_entry(const uint8_t* table, int64_t group, int idx);

// Types or shapes the SIMD float kernels do not take (the reference handles
// them, or throws the reference's error).
void float_matmul_fallback(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x,
                           int64_t n, int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin,
                           int64_t row_end);
void dequantize_row_fallback(GgmlType type, const uint8_t* src, float* dst, int64_t cols);
void qdot_matmul_fallback(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared,
                          int64_t n, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end);

}  // namespace x86

// ---------------------------------------------------------------- per-ISA entries
// Every ISA namespace below offers the same names; the table files pick them.
#define TERN_X86_DECLARE_COMMON                                                                                     \
    void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,     \
                       float* scale);                                                                              \
    void tl1_build_table(const int8_t* a, int64_t padded_cols, uint8_t* table);                                    \
    void tl1_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);             \
    void tl1_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,      \
                    int64_t row_begin, int64_t row_end);                                                           \
    void tl2_build_table(const int8_t* a, int64_t padded_cols, uint8_t* table);                                    \
    void tl2_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out);             \
    void tl2_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,      \
                    int64_t row_begin, int64_t row_end);                                                           \
    void float_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n, \
                      int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end);           \
    void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t cols);                             \
    void attn_scores(const float* q, int64_t n, int64_t q_stride, int64_t D, const float* kt, int64_t keys,       \
                     float* s, int64_t s_stride);                                                                  \
    void attn_values(const float* a, int64_t n, int64_t a_stride, const float* v, int64_t v_stride, int64_t keys, \
                     int64_t D, float* out, int64_t o_stride, bool accumulate);                   \
    void rmsnorm(const float* x, const float* w, int64_t dim, float eps, float* out);                             \
    void softmax(float* x, int64_t n);                                                                             \
    void scale_sums(const int32_t* acc, int64_t n, double k, float* y, bool accumulate);                        \
    void ffn_act_mul(Activation act, const float* gate, const float* up, float* out, int64_t n);

#define TERN_X86_DECLARE_I2S                                                                                       \
    void i2s_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,      \
                    int64_t row_begin, int64_t row_end);

// Quantized output matrices x int16 activations (qdot_kernel.inc); every ISA namespace has one.
#define TERN_X86_DECLARE_QDOT                                                                                      \
    void qdot_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared,   \
                     int64_t n, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end);

// The int8 dot-product peak probe (bench/): returns a checksum; MACs done by
// `iters` iterations from int8_peak_probe_macs. Every ISA namespace has one.
#define TERN_X86_DECLARE_PROBE                               \
    int64_t int8_peak_probe(int64_t iters, int32_t seed);    \
    int64_t int8_peak_probe_macs(int64_t iters);

namespace avx2 {
TERN_X86_DECLARE_PROBE
// pmaddubsw + paddw from L1: the ceiling of a kernel without vpdpbusd (bench/).
int64_t int8_accumulate_probe(int64_t iters, int32_t seed);
int64_t int8_accumulate_probe_macs(int64_t iters);
TERN_X86_DECLARE_QDOT
TERN_X86_DECLARE_COMMON
TERN_X86_DECLARE_I2S
// TernaryKernels::repack_i2s into x86::i2s_repack's layout with `tile_rows`
// (a multiple of 4) rows per tile; every table here has AVX2.
bool i2s_repack_from_i2s(const uint8_t* codes, int64_t rows, int64_t cols, float scale, int tile_rows,
                         PackedTernary& out);
}  // namespace avx2
namespace avxvnni {
TERN_X86_DECLARE_PROBE
TERN_X86_DECLARE_QDOT
TERN_X86_DECLARE_I2S
}  // namespace avxvnni
namespace avx512 {
TERN_X86_DECLARE_PROBE
TERN_X86_DECLARE_QDOT
TERN_X86_DECLARE_COMMON
TERN_X86_DECLARE_I2S
}  // namespace avx512
namespace avx512vnni {
TERN_X86_DECLARE_PROBE
TERN_X86_DECLARE_QDOT
TERN_X86_DECLARE_I2S
}  // namespace avx512vnni

#undef TERN_X86_DECLARE_COMMON
#undef TERN_X86_DECLARE_I2S
#undef TERN_X86_DECLARE_PROBE
#undef TERN_X86_DECLARE_QDOT

// Tile sizes each table repacks with.
inline constexpr int kI2sTileRows256 = 8, kI2sTileRows512 = 16;
inline constexpr int kTlTileRows256 = 32, kTlTileRows512 = 64;

}  // namespace tern::kernels
