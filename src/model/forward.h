// The forward pass over a batch of tokens that may belong to different
// sequences (SPEC §2). A Session is one sequence run through it; a
// BatchSession (tern/batch.h) many, decoded together so every weight matrix
// is read once per step for all of them.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include "model/attention.h"
#include "model/bitlinear.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "runtime/thread_pool.h"

namespace tern {

// Activation buffers: every row is written before it is read, so resizing
// does not zero them (a 512-token batch of 2B4T is 60 MB, zeroed and faulted
// in at every Session before; now pages are touched only as rows are used).
template <class T>
struct NoZeroAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = NoZeroAllocator<U>;
    };
    NoZeroAllocator() = default;
    template <class U>
    NoZeroAllocator(const NoZeroAllocator<U>&) noexcept {}
    template <class U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... A>
    void construct(U* p, A&&... a) {
        ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
    }
};
using ActivationRows = std::vector<float, NoZeroAllocator<float>>;

// One sequence's state: its KV cache and the tokens at positions 0 .. n_past - 1.
struct Sequence {
    Sequence(const HParams& hp, int64_t n_ctx, bool kv_f16) : kv(hp.n_layer, n_ctx, hp.kv_dim(), kv_f16) {}
    KvCache kv;
    std::vector<int32_t> tokens;
    int64_t n_past() const { return int64_t(tokens.size()); }
};

// What run() writes for the rows it is asked about.
enum class RowOutput {
    logits,  // W_out · rms(x, output_norm): [rows, n_vocab]
    hidden,  // rms(x, output_norm), what embeddings pool: [rows, n_embd]
};

class Forward {
public:
    // Buffers for up to n_batch tokens per run(); sequences of n_ctx positions.
    Forward(const ModelWeights& w, int n_threads, int64_t n_batch, int64_t n_ctx, bool kv_f16);

    // Runs tokens[i] of sequence *seqs[i], appending it at that sequence's
    // next position; a sequence's tokens must be consecutive in the batch
    // (a prompt chunk) and the batch at most n_batch long. Writes the logits
    // of the rows listed in `logit_rows` (ascending) to logits_out
    // [logit_rows.size(), n_vocab] (with RowOutput::hidden, their normed
    // hidden states [logit_rows.size(), n_embd]). Inputs are checked by the caller.
    void run(std::span<const int32_t> tokens, std::span<Sequence* const> seqs, std::span<const int64_t> logit_rows,
             float* logits_out, RowOutput what = RowOutput::logits);

    ThreadPool& pool() { return pool_; }
    int64_t n_batch() const { return n_batch_; }

private:
    // One projection of a group that reads the same input rows.
    struct Proj {
        const Linear* lin;
        float* y;  // [n, lin->rows()]
        bool accumulate = false;
    };
    // y = W · norm_in(row(t)) for every projection (row(t): `cols` floats of
    // token t, produced on the thread that uses it). Ternary projections
    // without their own norm share one quantization; float ones go through
    // float_matmul on rows gathered in h_.
    void project(std::initializer_list<Proj> projs, int64_t n, int64_t cols,
                 const std::function<const float*(int64_t)>& row);
    // x += post_norm(W · norm_in(row(t))), the residual add of attn_output
    // and ffn_down (without a post-norm a ternary one adds in place).
    void residual(const Linear& lin, const std::vector<float>& post_norm, int64_t n, int64_t cols,
                  const std::function<const float*(int64_t)>& row);

    const ModelWeights& w_;
    int64_t n_batch_;
    ThreadPool pool_;
    // Kept: its int32 sum buffer (28 MB for a 512-token batch of gate/up)
    // is then allocated once, not at every forward call.
    BitLinear bitlinear_;
    AttentionScratch attn_;

    // Activations for up to n_batch tokens.
    ActivationRows x_;      // [n, H]  residual stream
    ActivationRows h_;      // [n, max(H, I, nh·D)]  normed input of the next projection
    ActivationRows q_;      // [n, nh·D]
    ActivationRows k_, v_;  // [n, KV]
    ActivationRows att_;    // [n, nh·D]  attention output, concat over heads
    ActivationRows proj_;   // [n, H]  a residual branch before its post-norm (qwen3, gemma3)
    ActivationRows gate_;   // [n, I]
    ActivationRows up_;     // [n, I]
    std::vector<int32_t> pos_;  // [n]
    std::vector<AttentionGroup> groups_;
    QuantizedActs acts_;
    QuantizedActs proj_acts_[3];            // each projection's own (those with their own norm)
    std::vector<const float*> row_of_;      // [n] the shared input row of a group, per token
    ActivationRows normed_;             // [n, cols] a projection's own norm of it
    AlignedBuffer out_acts_;  // the output projection's int16 activations (Q8_0 / Q6_K output: qdot)
    ops::RopeTable rope_;
    ops::RopeTable rope_swa_;   // local layers' θ (gemma3)
};

}  // namespace tern
