// BitLinear: the one place that knows the ternary contract (SPEC §3).
// Quantize the activations per token, run the kernel for exact int32 sums,
// apply beta / s once at the end.
#pragma once

#include <algorithm>
#include <functional>
#include <span>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/thread_pool.h"

namespace tern {

// n tokens of activations quantized and prepared for one kernel family,
// shared by every matrix that reads the same input (q/k/v, gate/up).
struct QuantizedActs {
    int64_t n = 0, cols = 0, padded_cols = 0;
    AlignedBuffer q;             // [n, padded_cols] int8
    std::vector<float> scale;    // [n] s = 127 / gamma
    AlignedBuffer prepared;      // [n, prepared_stride] the kernel's own form
    int64_t prepared_stride = 0;
};

class BitLinear {
public:
    BitLinear(const kernels::KernelTable& table, kernels::TernaryFamily family, ThreadPool& pool)
        : table_(table), fam_(table.ternary[int(family)]), pool_(pool) {}

    // x: [n, cols] floats -> acts (buffers reused when large enough).
    void quantize(const float* x, int64_t n, int64_t cols, QuantizedActs& acts) const;

    // The same for rows produced by row(t) (a pointer to `cols` floats),
    // called once per token on the thread that quantizes that token, so the
    // per-token work that produces a row runs in the same parallel region.
    void quantize(int64_t n, int64_t cols, QuantizedActs& acts, const std::function<const float*(int64_t)>& row) const;

    // Several inputs of the same tokens in one parallel region (projections
    // that each have their own norm): row(t, i) gives token t's row of input
    // i, called on the thread that quantizes token t, for i in order.
    void quantize(int64_t n, int64_t cols, std::span<QuantizedActs* const> acts,
                  const std::function<const float*(int64_t, size_t)>& row) const;

    // y: [n, w.rows] floats = (q . W~) * beta / s; with `accumulate`,
    // y += that (a residual added where it happens: x += W_o·a).
    void apply(const kernels::PackedTernary& w, const QuantizedActs& acts, float* y, bool accumulate = false) const;

    // Several matrices in one parallel region, reading the same activations
    // or (`acts` set) each their own of the same tokens.
    struct Output {
        const kernels::PackedTernary* w;
        float* y;  // [n, w->rows]
        bool accumulate = false;
        const QuantizedActs* acts = nullptr;  // null: the activations passed to apply
    };
    void apply(std::span<const Output> outs, const QuantizedActs& acts) const;

    // Row chunks handed to threads are multiples of this: whole kernel tiles
    // (16 rows for x86 I2_S, up to 64 for the lookup-table families), so no
    // tile is split between threads and computed twice.
    static constexpr int64_t kRowGrain = 64;

    // From this many tokens on, threads split the tokens instead of the rows
    // (prefill), in equal chunks of about kTokenGrain (token_chunk below).
    // Every chunk streams each weight matrix once, so chunks of 8 (a
    // 120-token passage on 2 threads) spent more on the weights than on the
    // products; 32 keeps 4+ chunks per thread from 256 tokens on for the
    // pool to balance. Per-token steps around the products split tokens the
    // same way (parallel_tokens).
    static constexpr int64_t kTokenSplitMin = 64;
    static constexpr int64_t kTokenGrain = 32;

private:
    const kernels::KernelTable& table_;
    const kernels::TernaryKernels& fam_;
    ThreadPool& pool_;
    mutable std::vector<int32_t> acc_;     // [n, rows] exact sums, per matrix
    mutable std::vector<int64_t> starts_;  // each matrix's first row in the combined row space
};

// The token chunks of a prefill: equal, about kTokenGrain each, as many as a
// multiple of the threads. Chunks of exactly 32 gave a 120-token passage on
// 2 threads 64 tokens on one thread and 56 on the other, which then waited
// 6 % of the time; 4 x 30 splits it evenly.
inline int64_t token_chunk(int64_t n, int threads) {
    const int64_t per = std::max<int64_t>(1, (n + BitLinear::kTokenGrain / 2) / BitLinear::kTokenGrain / threads);
    const int64_t chunks = per * threads;
    return (n + chunks - 1) / chunks;
}

// fn over tokens [0, n), split among the threads the way BitLinear::apply
// splits them (for a prefill, the same thread gets the same tokens in the
// per-token steps as in the products, so rows stay in its cache).
inline void parallel_tokens(ThreadPool& pool, int64_t n, const std::function<void(int, int64_t, int64_t)>& fn) {
    if (n >= BitLinear::kTokenSplitMin)
        pool.parallel_for(n, token_chunk(n, pool.size()), fn, ThreadPool::kAffine);
    else
        pool.parallel_for(n, 1, fn);
}

}  // namespace tern
