// Reference TL1 / TL2 lookup-table families (SPEC §5, T-MAC style). Building
// the per-token table and looking it up are separate functions so each step
// can be tested alone (DESIGN.md); both must equal the I2S reference exactly.
//
// These scalar versions show the data flow, not the speed: SIMD versions keep
// the same math but choose their own table and index layouts (for example
// 16-entry byte tables for pshufb / vqtbl1q), so these layouts are not a
// contract for them.
#include <cstring>

#include "kernels/ref/ref.h"

namespace tern::kernels::ref {

namespace {

// Weight w of element e of row r, 0 beyond the matrix's padded width.
inline int weight(const TernaryMatrix& m, int64_t r, int64_t e) { return e < m.padded_cols ? m.get(r, e) : 0; }

}  // namespace

// ---------------------------------------------------------------- TL1

void tl1_build_table(const int8_t* a, int64_t padded_cols, int16_t* table) {
    for (int64_t p = 0; p < padded_cols / 2; ++p) {
        const int a0 = a[2 * p], a1 = a[2 * p + 1];
        for (int i = 0; i < kTl1Entries; ++i) table[p * kTl1Entries + i] = int16_t((i / 3 - 1) * a0 + (i % 3 - 1) * a1);
    }
}

int32_t tl1_lookup_row(const uint8_t* idx_row, const int16_t* table, int64_t n_pairs) {
    int32_t sum = 0;
    for (int64_t p = 0; p < n_pairs; ++p) {
        const int idx = (idx_row[p / 2] >> (4 * (p % 2))) & 0xF;
        sum += table[p * kTl1Entries + idx];
    }
    return sum;
}

PackedTernary tl1_repack(const TernaryMatrix& m) {
    PackedTernary p = packed_header(m);
    const int64_t row_bytes = m.padded_cols / 4;  // padded_cols/2 nibbles
    p.data = AlignedBuffer(size_t(m.rows * row_bytes));
    for (int64_t r = 0; r < m.rows; ++r)
        for (int64_t q = 0; q < m.padded_cols / 2; ++q) {
            const int idx = 3 * (weight(m, r, 2 * q) + 1) + (weight(m, r, 2 * q + 1) + 1);
            p.data.data()[r * row_bytes + q / 2] |= uint8_t(idx << (4 * (q % 2)));
        }
    return p;
}

int64_t tl1_prepared_bytes(int64_t padded_cols) {
    return round_up(padded_cols / 2 * kTl1Entries * int64_t(sizeof(int16_t)), 64);
}

void tl1_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    const int64_t pb = tl1_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) {
        std::memset(out + t * pb, 0, size_t(pb));
        tl1_build_table(q + t * q_stride, padded_cols, reinterpret_cast<int16_t*>(out + t * pb));
    }
}

void tl1_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    const int64_t pb = tl1_prepared_bytes(w.padded_cols), row_bytes = w.padded_cols / 4;
    for (int64_t t = 0; t < n; ++t) {
        const int16_t* table = reinterpret_cast<const int16_t*>(prepared + t * pb);
        for (int64_t r = row_begin; r < row_end; ++r)
            y[t * y_stride + r] = tl1_lookup_row(w.data.data() + r * row_bytes, table, w.padded_cols / 2);
    }
}

// ---------------------------------------------------------------- TL2

int64_t tl2_groups(int64_t padded_cols) { return (padded_cols + 2) / 3; }

void tl2_build_table(const int8_t* a, int64_t padded_cols, int16_t* table) {
    for (int64_t g = 0; g < tl2_groups(padded_cols); ++g) {
        int ak[3];
        for (int k = 0; k < 3; ++k) ak[k] = 3 * g + k < padded_cols ? a[3 * g + k] : 0;
        // Patterns 0..13 only: 14..26 are their negatives (26 - v).
        for (int v = 0; v < kTl2Entries; ++v)
            table[g * kTl2Entries + v] = int16_t((v / 9 - 1) * ak[0] + (v / 3 % 3 - 1) * ak[1] + (v % 3 - 1) * ak[2]);
    }
}

int32_t tl2_lookup_row(const uint8_t* idx_row, const uint8_t* sign_row, const int16_t* table, int64_t groups) {
    int32_t sum = 0;
    for (int64_t g = 0; g < groups; ++g) {
        const int idx = (idx_row[g / 2] >> (4 * (g % 2))) & 0xF;
        const int32_t v = table[g * kTl2Entries + idx];
        sum += (sign_row[g / 8] >> (g % 8)) & 1 ? -v : v;
    }
    return sum;
}

PackedTernary tl2_repack(const TernaryMatrix& m) {
    PackedTernary p = packed_header(m);
    const int64_t groups = tl2_groups(m.padded_cols), idx_bytes = (groups + 1) / 2, sign_bytes = (groups + 7) / 8;
    p.param[0] = groups;
    p.param[1] = idx_bytes;
    p.param[2] = sign_bytes;
    p.data = AlignedBuffer(size_t(m.rows * (idx_bytes + sign_bytes)));
    uint8_t* idx_plane = p.data.data();
    uint8_t* sign_plane = idx_plane + m.rows * idx_bytes;
    for (int64_t r = 0; r < m.rows; ++r)
        for (int64_t g = 0; g < groups; ++g) {
            const int v = 9 * (weight(m, r, 3 * g) + 1) + 3 * (weight(m, r, 3 * g + 1) + 1) + (weight(m, r, 3 * g + 2) + 1);
            const bool neg = v > 13;
            idx_plane[r * idx_bytes + g / 2] |= uint8_t((neg ? 26 - v : v) << (4 * (g % 2)));
            sign_plane[r * sign_bytes + g / 8] |= uint8_t(int(neg) << (g % 8));
        }
    return p;
}

int64_t tl2_prepared_bytes(int64_t padded_cols) {
    return round_up(tl2_groups(padded_cols) * kTl2Entries * int64_t(sizeof(int16_t)), 64);
}

void tl2_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    const int64_t pb = tl2_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) {
        std::memset(out + t * pb, 0, size_t(pb));
        tl2_build_table(q + t * q_stride, padded_cols, reinterpret_cast<int16_t*>(out + t * pb));
    }
}

void tl2_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    const int64_t pb = tl2_prepared_bytes(w.padded_cols);
    const int64_t groups = w.param[0], idx_bytes = w.param[1], sign_bytes = w.param[2];
    const uint8_t* idx_plane = w.data.data();
    const uint8_t* sign_plane = idx_plane + w.rows * idx_bytes;
    for (int64_t t = 0; t < n; ++t) {
        const int16_t* table = reinterpret_cast<const int16_t*>(prepared + t * pb);
        for (int64_t r = row_begin; r < row_end; ++r)
            y[t * y_stride + r] =
                tl2_lookup_row(idx_plane + r * idx_bytes, sign_plane + r * sign_bytes, table, groups);
    }
}

}  // namespace tern::kernels::ref
