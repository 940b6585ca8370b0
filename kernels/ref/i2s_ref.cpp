// The reference I2S family: no repacking at all, so it is obviously right and
// every other family (SIMD I2S, TL1, TL2) can be checked against it.
#include <cassert>
#include <cstring>

#include "kernels/ref/ref.h"

namespace tern::kernels::ref {

PackedTernary packed_header(const TernaryMatrix& m) {
    PackedTernary p;
    p.rows = m.rows;
    p.cols = m.cols;
    p.padded_cols = m.padded_cols;
    p.scale = m.scale;
    return p;
}

PackedTernary i2s_repack(const TernaryMatrix& m) {
    PackedTernary p = packed_header(m);
    p.data = AlignedBuffer(size_t(m.code_bytes()));
    if (m.code_bytes()) std::memcpy(p.data.data(), m.codes.data(), size_t(m.code_bytes()));
    return p;
}

// Just the int8 values; a multiple of 64 so every token starts 64-byte aligned.
int64_t i2s_prepared_bytes(int64_t padded_cols) { return round_up(padded_cols, 64); }

void i2s_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    assert(q_stride >= padded_cols);
    const int64_t pb = i2s_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) {
        uint8_t* o = out + t * pb;
        std::memcpy(o, q + t * q_stride, size_t(padded_cols));
        std::memset(o + padded_cols, 0, size_t(pb - padded_cols));
    }
}

void i2s_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    const int64_t pb = i2s_prepared_bytes(w.padded_cols);
    const int64_t row_bytes = w.padded_cols / 4;
    for (int64_t t = 0; t < n; ++t) {
        const int8_t* a = reinterpret_cast<const int8_t*>(prepared + t * pb);
        for (int64_t r = row_begin; r < row_end; ++r) {
            const uint8_t* codes = w.data.data() + r * row_bytes;
            int32_t sum = 0;
            // Over padded_cols: padding weights are 0 (code 1) and padding
            // activations are 0, so the tail adds nothing either way.
            for (int64_t j = 0; j < w.padded_cols; ++j) {
                const int wt = int((codes[j / 4] >> (2 * (j % 4))) & 3) - 1;
                sum += int32_t(a[j]) * wt;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

}  // namespace tern::kernels::ref
