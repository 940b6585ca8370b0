// The forward pass over a batch of tokens that may belong to different
// sequences (SPEC §2). A Session is one sequence run through it; a
// BatchSession (tern/batch.h) many, decoded together so every weight matrix
// is read once per step for all of them.
#pragma once

#include <span>
#include <vector>

#include "model/attention.h"
#include "model/bitlinear.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "runtime/thread_pool.h"

namespace tern {

// One sequence's state: its KV cache and the tokens at positions 0 .. n_past - 1.
struct Sequence {
    Sequence(const HParams& hp, int64_t n_ctx, bool kv_f16) : kv(hp.n_layer, n_ctx, hp.kv_dim(), kv_f16) {}
    KvCache kv;
    std::vector<int32_t> tokens;
    int64_t n_past() const { return int64_t(tokens.size()); }
};

class Forward {
public:
    // Buffers for up to n_batch tokens per run(); sequences of n_ctx positions.
    Forward(const ModelWeights& w, int n_threads, int64_t n_batch, int64_t n_ctx, bool kv_f16);

    // Runs tokens[i] of sequence *seqs[i], appending it at that sequence's
    // next position; a sequence's tokens must be consecutive in the batch
    // (a prompt chunk) and the batch at most n_batch long. Writes the logits
    // of the rows listed in `logit_rows` (ascending) to logits_out
    // [logit_rows.size(), n_vocab]. Inputs are checked by the caller.
    void run(std::span<const int32_t> tokens, std::span<Sequence* const> seqs, std::span<const int64_t> logit_rows,
             float* logits_out);

    ThreadPool& pool() { return pool_; }
    int64_t n_batch() const { return n_batch_; }

private:
    const ModelWeights& w_;
    int64_t n_batch_;
    ThreadPool pool_;
    // Kept: its int32 sum buffer (28 MB for a 512-token batch of gate/up)
    // is then allocated once, not at every forward call.
    BitLinear bitlinear_;
    AttentionScratch attn_;

    // Activations for up to n_batch tokens.
    std::vector<float> x_;      // [n, H]  residual stream
    std::vector<float> h_;      // [n, max(H, I)]  normed input of the next BitLinear
    std::vector<float> q_;      // [n, H]
    std::vector<float> k_, v_;  // [n, KV]
    std::vector<float> att_;    // [n, H]  attention output, concat over heads
    std::vector<float> gate_;   // [n, I]
    std::vector<float> up_;     // [n, I]
    std::vector<int32_t> pos_;  // [n]
    std::vector<AttentionGroup> groups_;
    QuantizedActs acts_;
    AlignedBuffer out_acts_;  // the output projection's int16 activations (Q8_0 / Q6_K output: qdot)
    ops::RopeTable rope_;
};

}  // namespace tern
