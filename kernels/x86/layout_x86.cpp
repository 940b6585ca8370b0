// Load-time repacking and the cold parts of activation preparation for the x86
// tables, in the layouts x86.h describes. Baseline x86-64 code: it runs once
// per weight matrix (or once per token, for the I2S copy), never in a hot loop.
#include <cassert>
#include <cstring>

#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace tern::kernels::x86 {

namespace {

// Code (w + 1) of element c of row r; rows past the matrix hold weight 0.
inline int code_at(const TernaryMatrix& m, int64_t r, int64_t c) {
    if (r >= m.rows) return 1;
    return (m.row(r)[c / 4] >> (2 * (c % 4))) & 3;
}

inline int weight_at(const TernaryMatrix& m, int64_t r, int64_t c) {
    return (r < m.rows && c < m.padded_cols) ? code_at(m, r, c) - 1 : 0;
}

// A 4 x 4 matrix of 2-bit fields in a 32-bit word, transposed: field kk of
// byte g moves to field g of byte kk. Two exchanges: the off-diagonal 2 x 2
// blocks (12 bits apart), then the off-diagonal fields inside each block (6
// bits apart).
inline uint32_t transpose_2bit_4x4(uint32_t x) {
    uint32_t t = ((x >> 12) ^ x) & 0x0000F0F0u;
    x ^= t ^ (t << 12);
    t = ((x >> 6) ^ x) & 0x00CC00CCu;
    return x ^ t ^ (t << 6);
}

}  // namespace

// ---------------------------------------------------------------- I2S

PackedTernary i2s_repack(const TernaryMatrix& m, int tile_rows) {
    assert(m.padded_cols % 16 == 0);
    PackedTernary p = ref::packed_header(m);
    const int64_t R = tile_rows, tiles = (m.rows + R - 1) / R, tile_bytes = R * m.padded_cols / 4;
    p.param[0] = R;
    p.param[1] = tiles;
    p.param[2] = tile_bytes;
    p.data = AlignedBuffer(size_t(tiles * tile_bytes), AlignedBuffer::kUninitialized);  // every byte written below
    uint8_t* d = p.data.data();
    for (int64_t t = 0; t < tiles; ++t)
        for (int64_t rr = 0; rr < R; ++rr) {
            const int64_t r = t * R + rr;
            const uint8_t* src = r < m.rows ? m.row(r) : nullptr;
            for (int64_t kb = 0; kb < m.padded_cols / 16; ++kb) {
                // Columns kb*16 + 4g + kk sit in canonical byte kb*4 + g, bits
                // 2kk; the tile wants them in byte kk, bits 2g (x86.h).
                uint32_t s4 = 0x55555555u;  // rows past the matrix: weight 0
                if (src) std::memcpy(&s4, src + kb * 4, 4);
                const uint32_t o = transpose_2bit_4x4(s4);
                std::memcpy(d + t * tile_bytes + kb * R * 4 + rr * 4, &o, 4);
            }
        }
    return p;
}

int64_t i2s_prepared_bytes(int64_t padded_cols) { return round_up(padded_cols, 64) + 64; }

void i2s_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    assert(q_stride >= padded_cols);
    const int64_t pb = i2s_prepared_bytes(padded_cols), off = i2s_sum_offset(padded_cols);
    for (int64_t t = 0; t < n; ++t) {
        const int8_t* a = q + t * q_stride;
        uint8_t* o = out + t * pb;
        std::memcpy(o, a, size_t(padded_cols));
        std::memset(o + padded_cols, 0, size_t(pb - padded_cols));
        int32_t sum = 0;  // |sum| <= 128 * padded_cols: exact for any real width
        for (int64_t j = 0; j < padded_cols; ++j) sum += a[j];
        std::memcpy(o + off, &sum, 4);
    }
}

int64_t i2s_prepared_bytes_biased(int64_t padded_cols) {
    return i2s_prepared_bytes(padded_cols) + round_up(padded_cols, 64);
}

void i2s_prepare_biased(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    const int64_t pb = i2s_prepared_bytes_biased(padded_cols), plain = i2s_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) {
        uint8_t* o = out + t * pb;
        i2s_prepare(q + t * q_stride, 1, q_stride, padded_cols, o);
        const int8_t* a = q + t * q_stride;
        for (int64_t j = 0; j < padded_cols; ++j) o[plain + j] = uint8_t(a[j] + 128);
        std::memset(o + plain + padded_cols, 0, size_t(pb - plain - padded_cols));
    }
}

// ---------------------------------------------------------------- TL1

PackedTernary tl1_repack(const TernaryMatrix& m, int tile_rows) {
    assert(m.padded_cols % 4 == 0);
    PackedTernary p = ref::packed_header(m);
    const int64_t R = tile_rows, tiles = (m.rows + R - 1) / R, blocks = m.padded_cols / 4, tile_bytes = blocks * R;
    p.param[0] = R;
    p.param[1] = tiles;
    p.param[2] = tile_bytes;
    p.data = AlignedBuffer(size_t(tiles * tile_bytes));
    uint8_t* d = p.data.data();
    for (int64_t t = 0; t < tiles; ++t)
        for (int64_t pc = 0; pc < blocks; ++pc)
            for (int b = 0; b < R; ++b) {
                const int64_t r = t * R + tl_row_of_byte(b, int(R));
                uint8_t v = 0;
                for (int h = 0; h < 2; ++h) {
                    const int64_t pair = 2 * pc + h;
                    const int idx = 3 * (weight_at(m, r, 2 * pair) + 1) + (weight_at(m, r, 2 * pair + 1) + 1);
                    v |= uint8_t(idx << (4 * h));
                }
                d[t * tile_bytes + pc * R + b] = v;
            }
    return p;
}

int64_t tl1_prepared_bytes(int64_t padded_cols) { return round_up(padded_cols / 2 * 32, 64); }

void tl1_table_from_ref(const int16_t* ref_table, int64_t padded_cols, uint8_t* out) {
    std::memset(out, 0, size_t(tl1_prepared_bytes(padded_cols)));
    for (int64_t p = 0; p < padded_cols / 2; ++p)
        for (int i = 0; i < 9; ++i) {
            const uint16_t e = uint16_t(ref_table[p * 9 + i]);
            out[p * 32 + i] = uint8_t(e & 0xff);
            out[p * 32 + 16 + i] = uint8_t(e >> 8);
        }
}

int16_t tl1_table_entry(const uint8_t* table, int64_t pair, int idx) {
    return int16_t(uint16_t(table[pair * 32 + idx] | (table[pair * 32 + 16 + idx] << 8)));
}

// ---------------------------------------------------------------- TL2

int64_t tl2_groups_even(int64_t padded_cols) { return round_up((padded_cols + 2) / 3, 2); }

PackedTernary tl2_repack(const TernaryMatrix& m, int tile_rows) {
    PackedTernary p = ref::packed_header(m);
    const int64_t R = tile_rows, tiles = (m.rows + R - 1) / R, G2 = tl2_groups_even(m.padded_cols);
    const int64_t idx_bytes = G2 / 2 * R, tile_bytes = round_up(idx_bytes + G2 * R / 8, 64);  // tiles 64-byte aligned
    p.param[0] = R;
    p.param[1] = tiles;
    p.param[2] = tile_bytes;
    p.param[3] = G2;
    p.data = AlignedBuffer(size_t(tiles * tile_bytes));
    uint8_t* d = p.data.data();
    for (int64_t t = 0; t < tiles; ++t) {
        uint8_t* idx_plane = d + t * tile_bytes;
        uint8_t* sign_plane = idx_plane + idx_bytes;
        for (int64_t g = 0; g < G2; ++g)
            for (int b = 0; b < R; ++b) {
                const int rr = tl_row_of_byte(b, int(R));
                const int64_t r = t * R + rr;
                const int v = 9 * (weight_at(m, r, 3 * g) + 1) + 3 * (weight_at(m, r, 3 * g + 1) + 1) +
                              (weight_at(m, r, 3 * g + 2) + 1);
                const bool neg = v > 13;
                idx_plane[(g / 2) * R + b] |= uint8_t((neg ? 26 - v : v) << (4 * (g % 2)));
                if (neg) sign_plane[g * (R / 8) + rr / 8] |= uint8_t(1 << (rr % 8));
            }
    }
    return p;
}

int64_t tl2_prepared_bytes(int64_t padded_cols) { return round_up(tl2_groups_even(padded_cols) * 32, 64); }

void tl2_table_from_ref(const int16_t* ref_table, int64_t padded_cols, uint8_t* out) {
    std::memset(out, 0, size_t(tl2_prepared_bytes(padded_cols)));
    const int64_t G = (padded_cols + 2) / 3;
    for (int64_t g = 0; g < G; ++g)
        for (int i = 0; i < 14; ++i) {
            const uint16_t e = uint16_t(ref_table[g * 14 + i]);
            out[g * 32 + i] = uint8_t(e & 0xff);
            out[g * 32 + 16 + i] = uint8_t(e >> 8);
        }
}

int16_t tl2_table_entry(const uint8_t* table, int64_t group, int idx) {
    return int16_t(uint16_t(table[group * 32 + idx] | (table[group * 32 + 16 + idx] << 8)));
}

// ---------------------------------------------------------------- float and qdot fallbacks

void float_matmul_fallback(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x,
                           int64_t n, int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin,
                           int64_t row_end) {
    ref::float_matmul(type, w, row_bytes, cols, x, n, x_stride, y, y_stride, row_begin, row_end);
}

void dequantize_row_fallback(GgmlType type, const uint8_t* src, float* dst, int64_t cols) {
    ref::dequantize_row(type, src, dst, cols);
}

void qdot_matmul_fallback(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared,
                          int64_t n, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
    ref::qdot_matmul(type, w, row_bytes, cols, prepared, n, y, y_stride, row_begin, row_end);
}

}  // namespace tern::kernels::x86
