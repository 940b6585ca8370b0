// Session::State: what a Session owns besides its tokens and logits — the
// thread pool, the KV cache and the activation buffers. Shared by the forward
// pass (session.cpp) and the session file (session_file.cpp).
#pragma once

#include <vector>

#include "aligned_buffer.h"
#include "model/bitlinear.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "runtime/thread_pool.h"
#include "tern/session.h"

namespace tern {

// Tokens per attention task in a batch (see Session::attention).
constexpr int64_t kAttnBlock = 16;

struct Session::State {
    State(const ModelWeights& w, int n_threads) : pool(n_threads), bitlinear(*w.table, w.family, pool) {}
    ThreadPool pool;
    // Kept for the session: its int32 sum buffer (28 MB for a 512-token
    // batch of gate/up) is then allocated once, not at every forward call.
    BitLinear bitlinear;
    // KV cache, f32 or fp16, laid out for the table's attention kernels
    // (kernels.h). K is transposed in blocks of kAttnKeyBlock positions,
    // [L, n_ctx / kAttnKeyBlock, KV, kAttnKeyBlock]: within a block, row j
    // holds k[j] of consecutive positions, so the scores of a block are sums
    // over rows with the keys along the vector lanes (and a token's KV values
    // land in one block, not in KV pages). V is [L, n_ctx, KV], one row per
    // position.
    bool kv_f16 = false;
    AlignedBuffer k_cache, v_cache;
    size_t kv_elem = 4;
    std::vector<float> kv_f32;  // [threads, kAttnKeyBlock * head_dim] fp16 cache rows converted for the kernels

    // Activations for up to n_batch tokens.
    std::vector<float> x;      // [n, H]  residual stream
    std::vector<float> h;      // [n, max(H, I)]  normed input of the next BitLinear
    std::vector<float> q;      // [n, H]
    std::vector<float> k, v;   // [n, KV]
    std::vector<float> att;    // [n, H]  attention output, concat over heads
    std::vector<float> gate;   // [n, I]
    std::vector<float> up;     // [n, I]
    std::vector<float> proj;   // [n, H]  output of attn_output / ffn_down
    std::vector<float> scores; // [threads, kAttnBlock, n_ctx]
    std::vector<int32_t> pos;  // [n]
    QuantizedActs acts;
    ops::RopeTable rope;
};


}  // namespace tern
