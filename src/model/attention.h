// Causal self-attention of a batch of new tokens over one layer of the KV
// cache (SPEC §2): for every head, softmax(q·Kᵀ / √D) over the positions a
// token sees, times V; grouped-query heads share their KV head.
#pragma once

#include <span>
#include <vector>

#include "kernels/kernels.h"
#include "model/hparams.h"
#include "model/kv_cache.h"
#include "runtime/thread_pool.h"

namespace tern {

// Per-thread working memory, sized once for a session.
struct AttentionScratch {
    AttentionScratch(int n_threads, int64_t k_ctx, int64_t head_dim, bool f16_cache);
    std::vector<float> scores;  // [threads, kTokenBlock, k_ctx]
    std::vector<float> kv_f32;  // [threads, kBlock * head_dim]: fp16 cache rows converted for the kernels
};

// Consecutive tokens of one sequence in a batch: rows first .. first + n - 1
// of q and out, at positions n_past .. n_past + n - 1 of `cache` (their K and
// V already stored).
struct AttentionGroup {
    const KvCache* cache;
    int64_t n_past;
    int64_t first;
    int64_t n;
};

// q [rows, n_head * D] -> out [rows, n_head * D], concatenated heads, for
// every group (several sequences in one batch share one parallel region).
// window > 0: a token at position p sees keys p - window + 1 .. p only (the
// local layers of gemma3); 0: every earlier key.
void causal_attention(const kernels::KernelTable& table, ThreadPool& pool, const HParams& hp,
                      std::span<const AttentionGroup> groups, int64_t layer, const float* q, float* out,
                      AttentionScratch& scratch, int64_t window = 0);

}  // namespace tern
