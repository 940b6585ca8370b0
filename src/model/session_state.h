// Session::State: what a Session owns besides its tokens and logits — the
// thread pool, the KV cache and the activation buffers. Shared by the forward
// pass (session.cpp) and the session file (session_file.cpp).
#pragma once

#include <vector>

#include "model/attention.h"
#include "model/bitlinear.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "runtime/thread_pool.h"
#include "tern/session.h"

namespace tern {

struct Session::State {
    State(const ModelWeights& w, int n_threads, int64_t n_ctx, int64_t n_batch, bool kv_f16);
    ThreadPool pool;
    // Kept for the session: its int32 sum buffer (28 MB for a 512-token
    // batch of gate/up) is then allocated once, not at every forward call.
    BitLinear bitlinear;
    KvCache kv;
    AttentionScratch attn;

    // Activations for up to n_batch tokens.
    std::vector<float> x;      // [n, H]  residual stream
    std::vector<float> h;      // [n, max(H, I)]  normed input of the next BitLinear
    std::vector<float> q;      // [n, H]
    std::vector<float> k, v;   // [n, KV]
    std::vector<float> att;    // [n, H]  attention output, concat over heads
    std::vector<float> gate;   // [n, I]
    std::vector<float> up;     // [n, I]
    std::vector<int32_t> pos;  // [n]
    QuantizedActs acts;
    ops::RopeTable rope;
};

}  // namespace tern
