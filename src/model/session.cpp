// The forward pass (SPEC §2), one readable function over a preallocated
// activations struct. Prefill runs a batch of tokens through matrix-matrix
// kernels; decode is the same code with n = 1.
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

Session::Session(Model model, const SessionOptions& opts) : model_(std::move(model)) {
    const HParams& hp = hparams_of(model_);
    n_ctx_ = opts.n_ctx > 0 ? opts.n_ctx : hp.n_ctx_train;
    n_batch_ = std::max<int64_t>(1, std::min(opts.n_batch, n_ctx_));
    st_ = std::make_unique<State>(ModelAccess::weights(model_), opts.n_threads > 0 ? opts.n_threads : default_thread_count());
    State& s = *st_;
    const size_t cache = size_t(hp.n_layer * n_ctx_ * hp.kv_dim());  // V
    s.kv_f16 = opts.kv_f16;
    s.kv_elem = s.kv_f16 ? 2 : 4;
    s.k_cache = AlignedBuffer(size_t(hp.n_layer * k_ctx() * hp.kv_dim()) * s.kv_elem);
    s.v_cache = AlignedBuffer(cache * s.kv_elem);
    const size_t nb = size_t(n_batch_);
    s.x.resize(nb * size_t(hp.n_embd));
    s.h.resize(nb * size_t(std::max(hp.n_embd, hp.n_ff)));
    s.q.resize(nb * size_t(hp.n_embd));
    s.k.resize(nb * size_t(hp.kv_dim()));
    s.v.resize(nb * size_t(hp.kv_dim()));
    s.att.resize(nb * size_t(hp.n_embd));
    s.gate.resize(nb * size_t(hp.n_ff));
    s.up.resize(nb * size_t(hp.n_ff));
    s.proj.resize(nb * size_t(hp.n_embd));
    s.scores.resize(size_t(s.pool.size()) * size_t(kAttnBlock) * size_t(k_ctx()));
    if (s.kv_f16) s.kv_f32.resize(size_t(s.pool.size()) * size_t(kernels::kAttnKeyBlock * hp.head_dim));
    s.pos.resize(nb);
}

Session::~Session() = default;

ThreadPool& Session::pool() { return st_->pool; }

int64_t Session::k_ctx() const { return round_up(n_ctx_, kernels::kAttnKeyBlock); }

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

// Writes token t of this batch's k (rotated) and v into layer l's cache.
void Session::store_kv(int64_t l, int64_t t) {
    State& s = *st_;
    const int64_t KV = hparams_of(model_).kv_dim(), B = kernels::kAttnKeyBlock;
    const size_t e = s.kv_elem;
    const int64_t p = n_past_ + t;
    uint8_t* kblock = s.k_cache.data() + size_t(l * k_ctx() * KV + (p / B) * KV * B + p % B) * e;
    uint8_t* vrow = s.v_cache.data() + size_t((l * n_ctx_ + p) * KV) * e;
    const float* k = &s.k[size_t(t * KV)];
    const float* v = &s.v[size_t(t * KV)];
    if (s.kv_f16) {
        for (int64_t j = 0; j < KV; ++j) {
            const uint16_t hk = f32_to_fp16(k[j]), hv = f32_to_fp16(v[j]);
            std::memcpy(kblock + size_t(j * B) * 2, &hk, 2);
            std::memcpy(vrow + 2 * j, &hv, 2);
        }
    } else {
        for (int64_t j = 0; j < KV; ++j) std::memcpy(kblock + size_t(j * B) * 4, &k[j], 4);
        std::memcpy(vrow, v, size_t(KV) * 4);
    }
}

// Causal attention for the n tokens of this batch over layer l's cache. One
// task is (head, block of up to kAttnBlock tokens): scores against every key
// block the block's last token sees (each key block read once for all the
// tokens), a softmax per token over its own positions (later ones zeroed),
// then the probability-weighted values. Both are the table's attention
// kernels, whose sums run in index order, so every table computes the same
// bits and a token's result does not depend on how the prompt was batched
// (the extra positions a block reads have probability exactly zero). An fp16
// cache is converted a key block at a time into per-thread scratch.
void Session::attention(int64_t l, int64_t n) {
    State& s = *st_;
    const HParams& hp = hparams_of(model_);
    const kernels::KernelTable& T = *ModelAccess::weights(model_).table;
    const int64_t H = hp.n_embd, KV = hp.kv_dim(), D = hp.head_dim, nh = hp.n_head, group = hp.gqa_group();
    const int64_t B = kernels::kAttnKeyBlock;
    const size_t e = s.kv_elem;
    const uint8_t* kc = s.k_cache.data() + size_t(l * k_ctx() * KV) * e;
    const uint8_t* vc = s.v_cache.data() + size_t(l * n_ctx_ * KV) * e;
    const float inv_sqrt_d = float(1.0 / std::sqrt(double(D)));
    const int64_t blocks = (n + kAttnBlock - 1) / kAttnBlock;
    const int64_t sc_stride = k_ctx();
    // Tasks per chunk: enough work (~2 x tokens x keys x D MACs each) to be
    // worth a hand-off to another thread (small models, short contexts).
    const int64_t task_macs = 2 * std::min(n, kAttnBlock) * (n_past_ + n) * D;
    const int64_t grain = std::max<int64_t>(1, 64 * 1024 / task_macs);
    s.pool.parallel_for(nh * blocks, grain, [&](int thread, int64_t b, int64_t end) {
        float* sc = &s.scores[size_t(thread) * size_t(kAttnBlock * sc_stride)];
        float* f32 = s.kv_f16 ? &s.kv_f32[size_t(thread) * size_t(B * D)] : nullptr;
        for (int64_t task = b; task < end; ++task) {
            const int64_t j = task / blocks, t0 = (task % blocks) * kAttnBlock, m = std::min(kAttnBlock, n - t0);
            const int64_t g = j / group;
            const int64_t n_keys = n_past_ + t0 + m;  // the block's last token sees all of these
            const float* q = &s.q[size_t(t0 * H + j * D)];
            for (int64_t p0 = 0; p0 < n_keys; p0 += B) {
                const uint8_t* kt = kc + size_t((p0 / B) * KV * B + g * D * B) * e;
                if (s.kv_f16) T.dequantize_row(GgmlType::F16, kt, f32, D * B);
                T.attn_scores(q, m, H, D, s.kv_f16 ? f32 : reinterpret_cast<const float*>(kt),
                              std::min(B, n_keys - p0), sc + p0, sc_stride);
            }
            for (int64_t i = 0; i < m; ++i) {
                float* row = sc + i * sc_stride;
                const int64_t own = n_past_ + t0 + i + 1;
                for (int64_t p = 0; p < own; ++p) row[p] *= inv_sqrt_d;
                ops::softmax(row, own);
                std::fill(row + own, row + n_keys, 0.0f);
            }
            // Values a key block at a time (the block's rows stay in L1 while
            // every token of the task passes over them; accumulating continues
            // one sum, so the result is the same as in one call).
            float* out = &s.att[size_t(t0 * H + j * D)];
            for (int64_t p0 = 0; p0 < n_keys; p0 += B) {
                const int64_t keys = std::min(B, n_keys - p0);
                const float* v = reinterpret_cast<const float*>(vc) + p0 * KV + g * D;
                int64_t v_stride = KV;
                if (s.kv_f16) {
                    for (int64_t p = 0; p < keys; ++p)
                        T.dequantize_row(GgmlType::F16, vc + size_t((p0 + p) * KV + g * D) * 2, f32 + p * D, D);
                    v = f32;
                    v_stride = D;
                }
                T.attn_values(sc + p0, m, sc_stride, v, v_stride, keys, D, out, H, p0 > 0);
            }
        }
    });
}

// Runs n tokens at positions n_past_ .. n_past_ + n - 1 and advances n_past_.
// With want_logits, writes [n, V] logits when logits_out holds n rows (all
// logits) or only the last token's row otherwise.
void Session::forward(const int32_t* tokens, int64_t n, bool want_logits, float* logits_out) {
    const ModelWeights& w = ModelAccess::weights(model_);
    const HParams& hp = w.hp;
    State& s = *st_;
    const int64_t H = hp.n_embd, I = hp.n_ff, KV = hp.kv_dim(), D = hp.head_dim;
    const int64_t nh = hp.n_head;
    const float eps = hp.rms_eps;
    const BitLinear& bitlinear = s.bitlinear;

    for (int64_t t = 0; t < n; ++t) s.pos[size_t(t)] = int32_t(n_past_ + t);
    s.rope.build(s.pos.data(), n, D, hp.rope_theta);

    // x = E[token]
    for (int64_t t = 0; t < n; ++t)
        w.table->dequantize_row(w.tok_embd.type, w.tok_embd.data + int64_t(tokens[t]) * w.tok_embd.row_bytes,
                                &s.x[size_t(t * H)], H);

    // Per-token work between matrix products (residual add, RMSNorm, the FFN
    // activation) runs inside BitLinear::quantize's parallel region, one
    // token at a time, so it is spread over the threads with no extra
    // hand-off. The FFN's output is added to x at the start of the next layer.
    auto norm_into_h = [&](const float* in, const std::vector<float>& gain, int64_t dim, int64_t t) -> const float* {
        float* out = &s.h[size_t(t * dim)];
        ops::rmsnorm(in + t * dim, gain.data(), dim, eps, out);
        return out;
    };
    auto add_proj_to_x = [&](int64_t t) {
        float* x = &s.x[size_t(t * H)];
        const float* y = &s.proj[size_t(t * H)];
        for (int64_t j = 0; j < H; ++j) x[j] += y[j];
    };

    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const Layer& L = w.layers[size_t(l)];

        // ---- attention
        bitlinear.quantize(n, H, s.acts, [&](int64_t t) {
            if (l > 0) add_proj_to_x(t);
            return norm_into_h(s.x.data(), L.attn_norm, H, t);
        });
        const BitLinear::Output qkv[] = {{&L.q.w, s.q.data()}, {&L.k.w, s.k.data()}, {&L.v.w, s.v.data()}};
        bitlinear.apply(qkv, s.acts);
        s.pool.parallel_for(n, 1, [&](int, int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                if (hp.rope == RopeStyle::neox) {
                    ops::rope_neox(&s.q[size_t(t * H)], nh, D, s.rope, t);
                    ops::rope_neox(&s.k[size_t(t * KV)], hp.n_head_kv, D, s.rope, t);
                } else {
                    ops::rope_norm(&s.q[size_t(t * H)], nh, D, s.rope, t);
                    ops::rope_norm(&s.k[size_t(t * KV)], hp.n_head_kv, D, s.rope, t);
                }
                store_kv(l, t);
            }
        });
        attention(l, n);
        bitlinear.quantize(n, H, s.acts, [&](int64_t t) {
            return hp.sub_norms ? norm_into_h(s.att.data(), L.attn_sub_norm, H, t) : &s.att[size_t(t * H)];
        });
        bitlinear.apply(L.o.w, s.acts, s.proj.data());

        // ---- feed-forward
        bitlinear.quantize(n, H, s.acts, [&](int64_t t) {
            add_proj_to_x(t);
            return norm_into_h(s.x.data(), L.ffn_norm, H, t);
        });
        const BitLinear::Output gate_up[] = {{&L.gate.w, s.gate.data()}, {&L.up.w, s.up.data()}};
        bitlinear.apply(gate_up, s.acts);
        bitlinear.quantize(n, I, s.acts, [&](int64_t t) {
            float* g = &s.gate[size_t(t * I)];
            if (hp.ffn_act == FfnAct::relu2)
                ops::relu2_mul(g, &s.up[size_t(t * I)], g, I);
            else
                ops::silu_mul(g, &s.up[size_t(t * I)], g, I);
            return hp.sub_norms ? norm_into_h(s.gate.data(), L.ffn_sub_norm, I, t) : g;
        });
        bitlinear.apply(L.down.w, s.acts, s.proj.data());
    }

    if (want_logits) {
        // The last FFN output, the final norm, then the full-precision output
        // projection (never quantized), for the tokens whose logits are kept.
        const bool all = logits_out != nullptr && n_logits_ > 1;
        const int64_t first = all ? 0 : n - 1, count = all ? n : 1;
        s.pool.parallel_for(count, 1, [&](int, int64_t b, int64_t e) {
            for (int64_t t = first + b; t < first + e; ++t) {
                add_proj_to_x(t);
                norm_into_h(s.x.data(), w.output_norm, H, t);
            }
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
