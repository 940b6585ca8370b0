// One task is (head, block of up to kTokenBlock tokens), or for a single
// token (decoding) (KV head, all the query heads that share it): scores against every
// key block the block's last token sees (each key block read once for all the
// tokens), a softmax per token over its own positions (later ones zeroed),
// then the probability-weighted values. Both are the table's attention
// kernels, whose sums run in index order, so every table computes the same
// bits and a token's result does not depend on how the prompt was batched
// (the extra positions a block reads have probability exactly zero). An fp16
// cache is converted a key block at a time into per-thread scratch.
#include "model/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/formats.h"
#include "ops/ops.h"

namespace tern {

namespace {
constexpr int64_t kTokenBlock = 16;  // tokens per task
constexpr int64_t kB = KvCache::kBlock;
}  // namespace

AttentionScratch::AttentionScratch(int n_threads, int64_t k_ctx, int64_t head_dim, bool f16_cache)
    : scores(size_t(n_threads) * size_t(kTokenBlock * k_ctx)),
      kv_f32(f16_cache ? size_t(n_threads) * size_t(kB * head_dim) : 0) {}

void causal_attention(const kernels::KernelTable& T, ThreadPool& pool, const HParams& hp,
                      std::span<const AttentionGroup> groups, int64_t layer, const float* q_all, float* out_all,
                      AttentionScratch& scratch, int64_t window) {
    const int64_t H = hp.q_dim(), KV = hp.kv_dim(), D = hp.head_dim, nh = hp.n_head, group_size = hp.gqa_group();
    const float inv_sqrt_d = float(1.0 / std::sqrt(double(D)));
    // Tasks: (group, head, block of tokens), numbered group after group.
    // A single token's query heads of one KV head go together, as the rows a
    // token block would have: their keys and values are read once, not once
    // per head (grouped-query attention), and each row's sums are the same.
    const bool by_kv_head = group_size > 1 && group_size <= kTokenBlock;
    auto heads_together = [&](const AttentionGroup& grp) { return by_kv_head && grp.n == 1; };
    std::vector<int64_t> task_start(groups.size() + 1, 0);
    int64_t macs = 0;
    for (size_t g = 0; g < groups.size(); ++g) {
        const int64_t blocks = (groups[g].n + kTokenBlock - 1) / kTokenBlock;
        task_start[g + 1] = task_start[g] + (heads_together(groups[g]) ? hp.n_head_kv : nh * blocks);
        macs += 2 * groups[g].n * (groups[g].n_past + groups[g].n) * D * nh;
    }
    const int64_t n_tasks = task_start.back();
    // Tasks per chunk: enough work to be worth a hand-off to another thread
    // (small models, short contexts).
    const int64_t task_macs = std::max<int64_t>(1, macs / std::max<int64_t>(1, n_tasks));
    const int64_t grain = std::max<int64_t>(1, 64 * 1024 / task_macs);
    pool.parallel_for(n_tasks, grain, [&](int thread, int64_t b, int64_t end) {
        size_t gi = 0;
        for (int64_t task = b; task < end; ++task) {
            while (task >= task_start[gi + 1]) ++gi;
            const AttentionGroup& grp = groups[gi];
            const KvCache& cache = *grp.cache;
            const bool f16 = cache.f16();
            const size_t e = cache.elem();
            const uint8_t* kc = cache.k_layer(layer);
            const uint8_t* vc = cache.v_layer(layer);
            const int64_t sc_stride = cache.k_ctx();
            float* sc = &scratch.scores[size_t(thread) * size_t(kTokenBlock * sc_stride)];
            float* f32 = f16 ? &scratch.kv_f32[size_t(thread) * size_t(kB * D)] : nullptr;
            const int64_t blocks = (grp.n + kTokenBlock - 1) / kTokenBlock;
            const int64_t local = task - task_start[gi];
            // Rows of the task: m tokens of query head j (row i = token t0 + i,
            // stride H), or with heads together the one token's query heads
            // j .. j + m - 1 (row i = head j + i, stride D).
            const bool heads = heads_together(grp);
            const int64_t j = heads ? local * group_size : local / blocks;
            const int64_t t0 = heads ? 0 : (local % blocks) * kTokenBlock;
            const int64_t m = heads ? group_size : std::min(kTokenBlock, grp.n - t0);
            const int64_t row_stride = heads ? D : H;
            const int64_t last = heads ? 0 : m - 1;      // the task's last token, from t0
            const int64_t g = j / group_size;            // the KV head of query head j
            const int64_t n_keys = grp.n_past + t0 + last + 1;  // the task's last token sees all of these
            // With a sliding window, key blocks wholly before the window of
            // the task's first token are skipped: no token of the task sees them.
            const int64_t lo_block = window > 0 ? std::max<int64_t>(0, grp.n_past + t0 - window + 1) / kB * kB : 0;
            const float* q = q_all + (grp.first + t0) * H + j * D;
            for (int64_t p0 = lo_block; p0 < n_keys; p0 += kB) {
                const uint8_t* kt = kc + size_t((p0 / kB) * KV * kB + g * D * kB) * e;
                if (f16) T.dequantize_row(GgmlType::F16, kt, f32, D * kB);
                T.attn_scores(q, m, row_stride, D, f16 ? f32 : reinterpret_cast<const float*>(kt),
                              std::min(kB, n_keys - p0), sc + p0, sc_stride);
            }
            for (int64_t i = 0; i < m; ++i) {
                float* row = sc + i * sc_stride;
                const int64_t own = grp.n_past + t0 + (heads ? 0 : i) + 1;
                const int64_t lo = window > 0 ? std::max<int64_t>(0, own - window) : 0;
                for (int64_t p = lo; p < own; ++p) row[p] *= inv_sqrt_d;
                T.softmax(row + lo, own - lo);
                std::fill(row + lo_block, row + lo, 0.0f);
                std::fill(row + own, row + n_keys, 0.0f);
            }
            // Values a key block at a time (the block's rows stay in L1 while
            // every token of the task passes over them; accumulating continues
            // one sum, so the result is the same as in one call).
            float* out = out_all + (grp.first + t0) * H + j * D;
            for (int64_t p0 = lo_block; p0 < n_keys; p0 += kB) {
                const int64_t keys = std::min(kB, n_keys - p0);
                const float* v = reinterpret_cast<const float*>(vc) + p0 * KV + g * D;
                int64_t v_stride = KV;
                if (f16) {
                    for (int64_t p = 0; p < keys; ++p)
                        T.dequantize_row(GgmlType::F16, vc + size_t((p0 + p) * KV + g * D) * 2, f32 + p * D, D);
                    v = f32;
                    v_stride = D;
                }
                T.attn_values(sc + p0, m, sc_stride, v, v_stride, keys, D, out, row_stride, p0 > lo_block);
            }
        }
    });
}

}  // namespace tern
