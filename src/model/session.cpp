// The forward pass (SPEC §2), one function that reads top to bottom like the
// spec, over a preallocated activations struct; attention is attention.cpp,
// the cache kv_cache.cpp. Prefill runs a batch of tokens through
// matrix-matrix kernels; decode is the same code with n = 1.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "formats.h"
#include "model/bitlinear.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "runtime/thread_pool.h"
#include "model/session_state.h"
#include "tern/session.h"

namespace tern {

Session::State::State(const ModelWeights& w, int n_threads, int64_t n_ctx, int64_t n_batch, bool kv_f16)
    : pool(n_threads), bitlinear(*w.table, w.family, pool), kv(w.hp.n_layer, n_ctx, w.hp.kv_dim(), kv_f16),
      attn(pool.size(), kv.k_ctx(), w.hp.head_dim, kv_f16) {
    const HParams& hp = w.hp;
    const size_t nb = size_t(n_batch);
    x.resize(nb * size_t(hp.n_embd));
    h.resize(nb * size_t(std::max(hp.n_embd, hp.n_ff)));
    q.resize(nb * size_t(hp.n_embd));
    k.resize(nb * size_t(hp.kv_dim()));
    v.resize(nb * size_t(hp.kv_dim()));
    att.resize(nb * size_t(hp.n_embd));
    gate.resize(nb * size_t(hp.n_ff));
    up.resize(nb * size_t(hp.n_ff));
    pos.resize(nb);
}

Session::Session(Model model, const SessionOptions& opts) : model_(std::move(model)) {
    const HParams& hp = hparams_of(model_);
    n_ctx_ = opts.n_ctx > 0 ? opts.n_ctx : hp.n_ctx_train;
    n_batch_ = std::max<int64_t>(1, std::min(opts.n_batch, n_ctx_));
    st_ = std::make_unique<State>(ModelAccess::weights(model_), opts.n_threads > 0 ? opts.n_threads : default_thread_count(),
                                  n_ctx_, n_batch_, opts.kv_f16);
}

Session::~Session() = default;

ThreadPool& Session::pool() { return st_->pool; }

void Session::truncate(int64_t n) {
    if (n < 0 || n > n_past_) throw Error("Session::truncate: position " + std::to_string(n) + " is past n_past");
    n_past_ = n;
    tokens_.resize(size_t(n));
}

int64_t Session::n_vocab() const { return hparams_of(model_).n_vocab; }
int Session::n_threads() const { return st_->pool.size(); }

int64_t Session::n_logits() const { return n_logits_; }

const float* Session::logits(int64_t i) const {
    if (i < 0) i += n_logits_;
    if (i < 0 || i >= n_logits_) throw Error("Session::logits: index out of range (no logits kept for it)");
    return logits_.data() + i * hparams_of(model_).n_vocab;
}

void Session::eval(std::span<const int32_t> tokens, bool all_logits) {
    const HParams& hp = hparams_of(model_);
    const int64_t n = int64_t(tokens.size());
    if (n == 0) throw Error("Session::eval: no tokens");
    if (n_past_ + n > n_ctx_)
        throw Error("the context is full: " + std::to_string(n_past_) + " + " + std::to_string(n) + " tokens exceed n_ctx " +
                    std::to_string(n_ctx_) + " (use a larger -c)");
    for (int32_t t : tokens)
        if (t < 0 || t >= hp.n_vocab)
            throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(hp.n_vocab - 1) +
                        ")");
    n_logits_ = all_logits ? n : 1;
    logits_.resize(size_t(n_logits_ * hp.n_vocab));
    for (int64_t b = 0; b < n; b += n_batch_) {
        const int64_t m = std::min(n_batch_, n - b);
        const bool last = b + m == n;
        float* out = all_logits ? logits_.data() + b * hp.n_vocab : (last ? logits_.data() : nullptr);
        forward(tokens.data() + b, m, out != nullptr, out);
    }
}

// Runs n tokens at positions n_past_ .. n_past_ + n - 1 and advances n_past_.
// With want_logits, writes [n, V] logits when logits_out holds n rows (all
// logits) or only the last token's row otherwise.
void Session::forward(const int32_t* tokens, int64_t n, bool want_logits, float* logits_out) {
    const ModelWeights& w = ModelAccess::weights(model_);
    const HParams& hp = w.hp;
    State& s = *st_;
    const int64_t H = hp.n_embd, I = hp.n_ff, KV = hp.kv_dim(), D = hp.head_dim;
    const float eps = hp.rms_eps;
    const BitLinear& bitlinear = s.bitlinear;

    for (int64_t t = 0; t < n; ++t) s.pos[size_t(t)] = int32_t(n_past_ + t);
    s.rope.build(s.pos.data(), n, D, hp.rope_theta);

    // x = E[token]
    for (int64_t t = 0; t < n; ++t)
        w.table->dequantize_row(w.tok_embd.type, w.tok_embd.data + int64_t(tokens[t]) * w.tok_embd.row_bytes,
                                &s.x[size_t(t * H)], H);

    // Per-token work between matrix products (RMSNorm, the FFN activation)
    // runs inside BitLinear::quantize's parallel region, one token at a
    // time, so it is spread over the threads with no extra hand-off.
    auto rmsnorm = [&](const float* in, const std::vector<float>& gain, int64_t dim, int64_t t) -> const float* {
        float* out = &s.h[size_t(t * dim)];
        ops::rmsnorm(in + t * dim, gain.data(), dim, eps, out);
        return out;
    };

    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const Layer& L = w.layers[size_t(l)];

        // ---- attention: q, k, v = W · rms(x); RoPE; cache; attend; x += W_o · subnorm(att)
        bitlinear.quantize(n, H, s.acts, [&](int64_t t) { return rmsnorm(s.x.data(), L.attn_norm, H, t); });
        const BitLinear::Output qkv[] = {{&L.q.w, s.q.data()}, {&L.k.w, s.k.data()}, {&L.v.w, s.v.data()}};
        bitlinear.apply(qkv, s.acts);
        s.pool.parallel_for(n, 1, [&](int, int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                float* q = &s.q[size_t(t * H)];
                float* k = &s.k[size_t(t * KV)];
                if (hp.rope == RopeStyle::neox) {
                    ops::rope_neox(q, hp.n_head, D, s.rope, t);
                    ops::rope_neox(k, hp.n_head_kv, D, s.rope, t);
                } else {
                    ops::rope_norm(q, hp.n_head, D, s.rope, t);
                    ops::rope_norm(k, hp.n_head_kv, D, s.rope, t);
                }
                s.kv.store(l, n_past_ + t, k, &s.v[size_t(t * KV)]);
            }
        });
        causal_attention(*w.table, s.pool, hp, s.kv, l, n_past_, n, s.q.data(), s.att.data(), s.attn);
        bitlinear.quantize(n, H, s.acts, [&](int64_t t) {
            return hp.sub_norms ? rmsnorm(s.att.data(), L.attn_sub_norm, H, t) : &s.att[size_t(t * H)];
        });
        bitlinear.apply(L.o.w, s.acts, s.x.data(), /*accumulate=*/true);

        // ---- feed-forward: x += W_down · subnorm(act(W_gate · rms(x)) · (W_up · rms(x)))
        bitlinear.quantize(n, H, s.acts, [&](int64_t t) { return rmsnorm(s.x.data(), L.ffn_norm, H, t); });
        const BitLinear::Output gate_up[] = {{&L.gate.w, s.gate.data()}, {&L.up.w, s.up.data()}};
        bitlinear.apply(gate_up, s.acts);
        bitlinear.quantize(n, I, s.acts, [&](int64_t t) {
            float* g = &s.gate[size_t(t * I)];
            if (hp.ffn_act == FfnAct::relu2)
                ops::relu2_mul(g, &s.up[size_t(t * I)], g, I);
            else
                ops::silu_mul(g, &s.up[size_t(t * I)], g, I);
            return hp.sub_norms ? rmsnorm(s.gate.data(), L.ffn_sub_norm, I, t) : g;
        });
        bitlinear.apply(L.down.w, s.acts, s.x.data(), /*accumulate=*/true);
    }

    if (want_logits) {
        // logits = W_out · rms(x): the full-precision output projection (never
        // quantized), for the tokens whose logits are kept.
        const bool all = logits_out != nullptr && n_logits_ > 1;
        const int64_t first = all ? 0 : n - 1, count = all ? n : 1;
        s.pool.parallel_for(count, 1, [&](int, int64_t b, int64_t e) {
            for (int64_t t = first + b; t < first + e; ++t) rmsnorm(s.x.data(), w.output_norm, H, t);
        });
        const FloatMatrix& out = w.output;
        const int64_t out_grain = round_up(std::max<int64_t>(64, 256 * 1024 / (count * H)), 64);
        s.pool.parallel_for(hp.n_vocab, out_grain, [&](int, int64_t r0, int64_t r1) {
            w.table->float_matmul(out.type, out.data, out.row_bytes, H, s.h.data() + first * H, count, H, logits_out,
                                  hp.n_vocab, r0, r1);
        }, count == 1 ? ThreadPool::kStreaming : ThreadPool::kBalanced);
    }
    tokens_.insert(tokens_.end(), tokens, tokens + n);
    n_past_ += n;
}

}  // namespace tern
