#include "model/bitlinear.h"

#include <cassert>

namespace tern {

namespace {
void ensure(AlignedBuffer& b, size_t bytes) {
    if (b.size() < bytes) b = AlignedBuffer(bytes);
}
}  // namespace

void BitLinear::quantize(const float* x, int64_t n, int64_t cols, QuantizedActs& a) const {
    a.n = n;
    a.cols = cols;
    a.padded_cols = round_up(cols, kTernaryColAlign);
    ensure(a.q, size_t(n * a.padded_cols));
    if (int64_t(a.scale.size()) < n) a.scale.resize(size_t(n));
    a.prepared_stride = round_up(fam_.prepared_bytes(a.padded_cols), int64_t(AlignedBuffer::kAlign));
    ensure(a.prepared, size_t(n * a.prepared_stride));
    // Tokens are independent: split them over the threads.
    pool_.parallel_for(n, 1, [&](int, int64_t b, int64_t e) {
        table_.quantize_rows(x + b * cols, e - b, cols, cols, a.q.as<int8_t>() + b * a.padded_cols, a.padded_cols,
                             a.scale.data() + b);
        for (int64_t t = b; t < e; ++t)
            fam_.prepare(a.q.as<int8_t>() + t * a.padded_cols, 1, a.padded_cols, a.padded_cols,
                         a.prepared.data() + t * a.prepared_stride);
    });
}

void BitLinear::apply(const kernels::PackedTernary& w, const QuantizedActs& a, float* y) const {
    assert(w.cols == a.cols && w.padded_cols == a.padded_cols);
    const int64_t n = a.n, rows = w.rows;
    if (int64_t(acc_.size()) < n * rows) acc_.resize(size_t(n * rows));
    int32_t* acc = acc_.data();
    const double beta = w.scale;
    // Row chunks are multiples of 64: whole kernel tiles (16 rows for x86 I2S,
    // up to 64 for the lookup-table families), so no tile is split between
    // threads and computed twice.
    pool_.parallel_for(rows, 64, [&](int, int64_t r0, int64_t r1) {
        if (n == 1 || a.prepared_stride == fam_.prepared_bytes(a.padded_cols)) {
            fam_.matmul(w, a.prepared.data(), n, acc, rows, r0, r1);
        } else {
            for (int64_t t = 0; t < n; ++t)
                fam_.matmul(w, a.prepared.data() + t * a.prepared_stride, 1, acc + t * rows, rows, r0, r1);
        }
        for (int64_t t = 0; t < n; ++t) {
            const double k = beta / double(a.scale[size_t(t)]);
            for (int64_t r = r0; r < r1; ++r) y[t * rows + r] = float(double(acc[t * rows + r]) * k);
        }
    });
}

}  // namespace tern
