#include "model/bitlinear.h"

#include <algorithm>
#include <cassert>

namespace tern {

namespace {
void ensure(AlignedBuffer& b, size_t bytes) {
    if (b.size() < bytes) b = AlignedBuffer(bytes);
}
}  // namespace

void BitLinear::quantize(const float* x, int64_t n, int64_t cols, QuantizedActs& a) const {
    quantize(n, cols, a, [&](int64_t t) { return x + t * cols; });
}

void BitLinear::quantize(int64_t n, int64_t cols, QuantizedActs& a,
                         const std::function<const float*(int64_t)>& row) const {
    QuantizedActs* const one[1] = {&a};
    quantize(n, cols, std::span<QuantizedActs* const>(one), [&](int64_t t, size_t) { return row(t); });
}

void BitLinear::quantize(int64_t n, int64_t cols, std::span<QuantizedActs* const> acts,
                         const std::function<const float*(int64_t, size_t)>& row) const {
    for (QuantizedActs* a : acts) {
        a->n = n;
        a->cols = cols;
        a->padded_cols = round_up(cols, kTernaryColAlign);
        ensure(a->q, size_t(n * a->padded_cols));
        if (int64_t(a->scale.size()) < n) a->scale.resize(size_t(n));
        a->prepared_stride = round_up(fam_.prepared_bytes(a->padded_cols), int64_t(AlignedBuffer::kAlign));
        ensure(a->prepared, size_t(n * a->prepared_stride));
    }
    // Tokens are independent: split them over the threads.
    parallel_tokens(pool_, n, [&](int, int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t)
            for (size_t i = 0; i < acts.size(); ++i) {
                QuantizedActs& a = *acts[i];
                int8_t* q = a.q.as<int8_t>() + t * a.padded_cols;
                table_.quantize_rows(row(t, i), 1, cols, cols, q, a.padded_cols, a.scale.data() + t);
                fam_.prepare(q, 1, a.padded_cols, a.padded_cols, a.prepared.data() + t * a.prepared_stride);
            }
    });
}

void BitLinear::apply(const kernels::PackedTernary& w, const QuantizedActs& a, float* y, bool accumulate) const {
    const Output one{&w, y, accumulate};
    apply(std::span<const Output>(&one, 1), a);
}

void BitLinear::apply(std::span<const Output> outs, const QuantizedActs& shared) const {
    // The matrices share one parallel region (q/k/v, gate/up): one hand-off
    // to the workers instead of several, and the threads stream weights
    // without a pause between matrices. Each matrix's rows start on a
    // multiple of kRowGrain in the combined row space, so no chunk straddles
    // a tile.
    const int64_t n = shared.n;
    auto acts_of = [&](const Output& o) -> const QuantizedActs& { return o.acts ? *o.acts : shared; };
    std::vector<int64_t>& start = starts_;
    start.assign(outs.size() + 1, 0);
    int64_t acc_total = 0;
    for (size_t i = 0; i < outs.size(); ++i) {
        const kernels::PackedTernary& w = *outs[i].w;
        [[maybe_unused]] const QuantizedActs& a = acts_of(outs[i]);
        assert(w.cols == a.cols && w.padded_cols == a.padded_cols && a.n == n);
        start[i + 1] = start[i] + round_up(w.rows, kRowGrain);
        acc_total += n * w.rows;
    }
    if (int64_t(acc_.size()) < acc_total) acc_.resize(size_t(acc_total));
    // Sums in blocks of block_rows rows x token_chunk tokens whose int32
    // sums fit in L2, so the scaling pass reads them from cache instead of
    // memory. Many tokens go in chunks rather than thinning the row block:
    // a block of a few rows would write its outputs as short scattered runs
    // and stream every token's activations again for each few rows.
    constexpr int64_t kAccBytes = 256 * 1024;
    constexpr int64_t kTokenChunk = 128;
    const int64_t token_chunk = std::min(n, kTokenChunk);
    const int64_t block_rows = std::max(kRowGrain, kAccBytes / (4 * token_chunk) / kRowGrain * kRowGrain);
    // The sums of output i over rows [r_begin, r_end) and tokens [t_begin, t_end), then scaled.
    auto compute = [&](size_t i, int64_t r_begin, int64_t r_end, int64_t t_begin, int64_t t_end) {
        int32_t* acc = acc_.data();
        for (size_t j = 0; j < i; ++j) acc += n * outs[j].w->rows;
        const kernels::PackedTernary& w = *outs[i].w;
        const QuantizedActs& a = acts_of(outs[i]);
        const bool batched = n == 1 || a.prepared_stride == fam_.prepared_bytes(a.padded_cols);
        const int64_t rows = w.rows;
        for (int64_t r0 = r_begin; r0 < r_end; r0 += block_rows) {
            const int64_t r1 = std::min(r_end, r0 + block_rows);
            for (int64_t t0 = t_begin; t0 < t_end; t0 += token_chunk) {
                const int64_t t1 = std::min(t_end, t0 + token_chunk);
                if (batched) {
                    fam_.matmul(w, a.prepared.data() + t0 * a.prepared_stride, t1 - t0, acc + t0 * rows, rows, r0, r1);
                } else {
                    for (int64_t t = t0; t < t1; ++t)
                        fam_.matmul(w, a.prepared.data() + t * a.prepared_stride, 1, acc + t * rows, rows, r0, r1);
                }
                const double beta = w.scale;
                float* y = outs[i].y;
                for (int64_t t = t0; t < t1; ++t)
                    table_.scale_sums(acc + t * rows + r0, r1 - r0, beta / double(a.scale[size_t(t)]),
                                      y + t * rows + r0, outs[i].accumulate);
            }
        }
    };
    // Many tokens (prefill): each thread takes whole tokens, every row of
    // every matrix (the weights are read once per thread, from L3 or memory:
    // little next to the arithmetic), so the rows it writes are the rows the
    // next per-token step on the same thread reads, still in its own cache.
    if (n >= kTokenSplitMin) {
        parallel_tokens(pool_, n, [&](int, int64_t t0, int64_t t1) {
            for (size_t i = 0; i < outs.size(); ++i) compute(i, 0, outs[i].w->rows, t0, t1);
        });
        return;
    }
    // A few tokens (decode): threads split the rows. A chunk handed to a
    // thread is at least kMinChunkMacs of work (whole kRowGrain tiles):
    // below that, the hand-off costs more than it saves (small models ran
    // slower on two threads than on one).
    constexpr int64_t kMinChunkMacs = 256 * 1024;
    const int64_t grain = round_up(std::max<int64_t>(1, kMinChunkMacs / (n * shared.padded_cols)), kRowGrain);
    const int split = n == 1 ? ThreadPool::kStreaming : ThreadPool::kBalanced;
    pool_.parallel_for(start.back(), grain, [&](int, int64_t c0, int64_t c1) {
        for (size_t i = 0; i < outs.size(); ++i) {
            const int64_t begin = std::max<int64_t>(c0 - start[i], 0), end = std::min(c1 - start[i], outs[i].w->rows);
            if (begin < end) compute(i, begin, end, 0, n);
        }
    }, split);
}

}  // namespace tern
