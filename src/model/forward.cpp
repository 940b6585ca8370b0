// The forward pass (SPEC §2), one function that reads top to bottom like the
// spec, over preallocated activations; attention is attention.cpp, the cache
// kv_cache.cpp. Prefill runs a batch of tokens through matrix-matrix kernels;
// decode is the same code with one token per sequence.
#include "model/forward.h"

#include <algorithm>
#include <cassert>

#include "kernels/formats.h"

namespace tern {

namespace {

// Quantized output matrices run as integer dot products against int16
// activations (ref.h, SPEC §2); other types as float products.
bool uses_qdot(const ModelWeights& w) {
    return w.table->qdot_matmul && kernels::qdot_supports(w.output.type, w.output.cols);
}

}  // namespace

Forward::Forward(const ModelWeights& w, int n_threads, int64_t n_batch, int64_t n_ctx, bool kv_f16)
    : w_(w), n_batch_(n_batch), pool_(n_threads), bitlinear_(*w.table, w.family, pool_),
      attn_(pool_.size(), round_up(n_ctx, KvCache::kBlock), w.hp.head_dim, kv_f16) {
    const HParams& hp = w.hp;
    const size_t nb = size_t(n_batch);
    x_.resize(nb * size_t(hp.n_embd));
    h_.resize(nb * size_t(std::max({hp.n_embd, hp.n_ff, hp.q_dim()})));
    q_.resize(nb * size_t(hp.q_dim()));
    k_.resize(nb * size_t(hp.kv_dim()));
    v_.resize(nb * size_t(hp.kv_dim()));
    att_.resize(nb * size_t(hp.q_dim()));
    if (hp.post_norms || hp.float_linears) proj_.resize(nb * size_t(hp.n_embd));
    gate_.resize(nb * size_t(hp.n_ff));
    up_.resize(nb * size_t(hp.n_ff));
    pos_.resize(nb);
    if (uses_qdot(w)) out_acts_ = AlignedBuffer(size_t(n_batch * kernels::qdot_prepared_bytes(hp.n_embd)));
}

void Forward::project(std::initializer_list<Proj> projs, int64_t n, int64_t cols,
                      const std::function<const float*(int64_t)>& row) {
    const float eps = w_.hp.rms_eps;
    // The projection's own norm, written to h_ (in place when row(t) is there).
    auto normed = [&](const Linear& lin, int64_t t) {
        const float* in = row(t);
        if (lin.norm_in.empty()) return in;
        float* out = &h_[size_t(t * cols)];
        w_.table->rmsnorm(in, lin.norm_in.data(), cols, eps, out);
        return static_cast<const float*>(out);
    };
    assert(projs.size() <= 3);
    bool shared = true;  // one quantized input for all: every projection ternary, none with its own norm
    for (const Proj& p : projs) shared = shared && !p.lin->is_float() && (projs.size() == 1 || p.lin->norm_in.empty());
    if (shared) {
        const Linear& first = *projs.begin()->lin;
        bitlinear_.quantize(n, cols, acts_, [&](int64_t t) { return normed(first, t); });
        BitLinear::Output outs[3];  // q/k/v at most
        size_t k = 0;
        for (const Proj& p : projs) outs[k++] = {&p.lin->w, p.y, p.accumulate};
        bitlinear_.apply(std::span<const BitLinear::Output>(outs, k), acts_);
        return;
    }
    // Ternary projections with their own norms (qwen3 / gemma3 embedding
    // models): every input normed and quantized in one parallel region, the
    // shared row(t) computed once per token, and the matrices in one more.
    bool all_ternary = true;
    for (const Proj& p : projs) all_ternary = all_ternary && !p.lin->is_float();
    if (all_ternary) {
        QuantizedActs* acts[3];
        BitLinear::Output outs[3];
        size_t k = 0;
        for (const Proj& p : projs) {
            acts[k] = &proj_acts_[k];
            outs[k] = {&p.lin->w, p.y, p.accumulate, acts[k]};
            ++k;
        }
        if (int64_t(row_of_.size()) < n) row_of_.resize(size_t(n));
        if (int64_t(normed_.size()) < n * cols) normed_.resize(size_t(n * cols));
        bitlinear_.quantize(n, cols, std::span<QuantizedActs* const>(acts, k), [&](int64_t t, size_t i) {
            if (i == 0) row_of_[size_t(t)] = row(t);
            const Linear& lin = *projs.begin()[i].lin;
            const float* in = row_of_[size_t(t)];
            if (lin.norm_in.empty()) return in;
            float* out = &normed_[size_t(t * cols)];  // overwritten by the next input only after quantizing
            w_.table->rmsnorm(in, lin.norm_in.data(), cols, eps, out);
            return static_cast<const float*>(out);
        });
        bitlinear_.apply(std::span<const BitLinear::Output>(outs, k), proj_acts_[0]);
        return;
    }
    for (const Proj& p : projs) {  // a group mixing float and ternary projections
        const Linear& lin = *p.lin;
        if (!lin.is_float()) {
            bitlinear_.quantize(n, cols, acts_, [&](int64_t t) { return normed(lin, t); });
            bitlinear_.apply(lin.w, acts_, p.y, p.accumulate);
            continue;
        }
        // A float projection (teacher files): plain float, no quantization.
        parallel_tokens(pool_, n, [&](int, int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                const float* in = normed(lin, t);
                float* dst = &h_[size_t(t * cols)];
                if (in != dst) std::copy(in, in + cols, dst);
            }
        });
        const FloatMatrix& f = lin.f;
        const int64_t grain = round_up(std::max<int64_t>(64, 256 * 1024 / (n * cols)), 64);
        pool_.parallel_for(f.rows, grain, [&](int, int64_t r0, int64_t r1) {
            w_.table->float_matmul(f.type, f.data, f.row_bytes, cols, h_.data(), n, cols, p.y, f.rows, r0, r1);
        });
        assert(!p.accumulate);
    }
}

void Forward::residual(const Linear& lin, const std::vector<float>& post_norm, int64_t n, int64_t cols,
                       const std::function<const float*(int64_t)>& row) {
    const int64_t H = w_.hp.n_embd;
    if (!lin.is_float() && post_norm.empty()) {
        project({{&lin, x_.data(), /*accumulate=*/true}}, n, cols, row);
        return;
    }
    project({{&lin, proj_.data()}}, n, cols, row);
    parallel_tokens(pool_, n, [&](int, int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            float* y = &proj_[size_t(t * H)];
            if (!post_norm.empty()) w_.table->rmsnorm(y, post_norm.data(), H, w_.hp.rms_eps, y);
            float* x = &x_[size_t(t * H)];
            for (int64_t j = 0; j < H; ++j) x[j] += y[j];
        }
    });
}

void Forward::run(std::span<const int32_t> tokens, std::span<Sequence* const> seqs, std::span<const int64_t> logit_rows,
                  float* logits_out, RowOutput what) {
    const ModelWeights& w = w_;
    const HParams& hp = w.hp;
    const int64_t n = int64_t(tokens.size());
    const int64_t H = hp.n_embd, I = hp.n_ff, KV = hp.kv_dim(), D = hp.head_dim, Q = hp.q_dim();
    const float eps = hp.rms_eps;

    // Positions, and the runs of consecutive tokens of one sequence that
    // attention handles together.
    groups_.clear();
    for (int64_t t = 0; t < n; ++t) {
        Sequence* s = seqs[size_t(t)];
        if (groups_.empty() || groups_.back().cache != &s->kv)
            groups_.push_back({&s->kv, s->n_past(), t, 0});
        AttentionGroup& g = groups_.back();
        pos_[size_t(t)] = int32_t(g.n_past + g.n);
        ++g.n;
    }
    rope_.build(pos_.data(), n, D, hp.rope_theta);
    if (hp.swa_window > 0) rope_swa_.build(pos_.data(), n, D, hp.rope_theta_swa);

    // x = E[token] (· √H for gemma3)
    for (int64_t t = 0; t < n; ++t) {
        float* x = &x_[size_t(t * H)];
        w.table->dequantize_row(w.tok_embd.type, w.tok_embd.data + int64_t(tokens[size_t(t)]) * w.tok_embd.row_bytes, x, H);
        if (hp.embd_scale > 0.0f)
            for (int64_t j = 0; j < H; ++j) x[j] *= hp.embd_scale;
    }

    // Per-token work between matrix products (RMSNorm, the FFN activation)
    // runs inside BitLinear::quantize's parallel region, one token at a
    // time, so it is spread over the threads with no extra hand-off.
    auto rmsnorm = [&](const float* in, const std::vector<float>& gain, int64_t dim, int64_t t, int64_t out_row) {
        float* out = &h_[size_t(out_row * dim)];
        w_.table->rmsnorm(in + t * dim, gain.data(), dim, eps, out);
        return static_cast<const float*>(out);
    };

    const kernels::Activation act = hp.ffn_act == FfnAct::relu2  ? kernels::Activation::relu2
                                    : hp.ffn_act == FfnAct::silu ? kernels::Activation::silu
                                                                 : kernels::Activation::gelu_tanh;
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const Layer& L = w.layers[size_t(l)];
        const bool local = hp.local_layer(l);  // gemma3's sliding-window layers
        const ops::RopeTable& rope = local ? rope_swa_ : rope_;

        // ---- attention: q, k, v = W · rms(x); q/k norms; RoPE; cache; attend; x += W_o · subnorm(att)
        project({{&L.q, q_.data()}, {&L.k, k_.data()}, {&L.v, v_.data()}}, n, H,
                [&](int64_t t) { return rmsnorm(x_.data(), L.attn_norm, H, t, t); });
        parallel_tokens(pool_, n, [&](int, int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                float* q = &q_[size_t(t * Q)];
                float* k = &k_[size_t(t * KV)];
                if (!L.q_norm.empty()) {
                    for (int64_t j = 0; j < hp.n_head; ++j) w_.table->rmsnorm(q + j * D, L.q_norm.data(), D, eps, q + j * D);
                    for (int64_t j = 0; j < hp.n_head_kv; ++j) w_.table->rmsnorm(k + j * D, L.k_norm.data(), D, eps, k + j * D);
                }
                if (hp.rope == RopeStyle::neox) {
                    ops::rope_neox(q, hp.n_head, D, rope, t);
                    ops::rope_neox(k, hp.n_head_kv, D, rope, t);
                } else {
                    ops::rope_norm(q, hp.n_head, D, rope, t);
                    ops::rope_norm(k, hp.n_head_kv, D, rope, t);
                }
                seqs[size_t(t)]->kv.store(l, pos_[size_t(t)], k, &v_[size_t(t * KV)]);
            }
        });
        causal_attention(*w.table, pool_, hp, groups_, l, q_.data(), att_.data(), attn_, local ? hp.swa_window : 0);
        residual(L.o, L.post_attn_norm, n, Q, [&](int64_t t) { return static_cast<const float*>(&att_[size_t(t * Q)]); });

        // ---- feed-forward: x += W_down · subnorm(act(W_gate · rms(x)) · (W_up · rms(x)))
        project({{&L.gate, gate_.data()}, {&L.up, up_.data()}}, n, H,
                [&](int64_t t) { return rmsnorm(x_.data(), L.ffn_norm, H, t, t); });
        residual(L.down, L.post_ffn_norm, n, I, [&](int64_t t) {
            float* g = &gate_[size_t(t * I)];
            const float* u = &up_[size_t(t * I)];
            w.table->ffn_act_mul(act, g, u, g, I);
            return static_cast<const float*>(g);
        });
    }

    for (size_t i = 0; i < seqs.size(); ++i) seqs[i]->tokens.push_back(tokens[i]);

    if (logit_rows.empty()) return;
    const int64_t count = int64_t(logit_rows.size());
    if (what == RowOutput::hidden) {
        pool_.parallel_for(count, 1, [&](int, int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i)
                w_.table->rmsnorm(&x_[size_t(logit_rows[size_t(i)] * H)], w.output_norm.data(), H, eps, logits_out + i * H);
        });
        return;
    }
    // logits = W_out · rms(x), for the rows whose logits are wanted, gathered
    // in order: float products, or for Q8_0 / Q6_K integer ones against the
    // normed rows quantized to int16 (SPEC §2).
    const bool qdot = uses_qdot(w);
    const int64_t qstride = kernels::qdot_prepared_bytes(H);
    pool_.parallel_for(count, 1, [&](int, int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            const float* h = rmsnorm(x_.data(), w.output_norm, H, logit_rows[size_t(i)], i);
            if (qdot) w.table->qdot_prepare(h, 1, H, H, out_acts_.data() + i * qstride);
        }
    });
    const FloatMatrix& out = w.output;
    const int64_t out_grain = round_up(std::max<int64_t>(64, 256 * 1024 / (count * H)), 64);
    pool_.parallel_for(hp.n_vocab, out_grain, [&](int, int64_t r0, int64_t r1) {
        if (qdot)
            w.table->qdot_matmul(out.type, out.data, out.row_bytes, H, out_acts_.data(), count, logits_out, hp.n_vocab,
                                 r0, r1);
        else
            w.table->float_matmul(out.type, out.data, out.row_bytes, H, h_.data(), count, H, logits_out, hp.n_vocab, r0,
                                  r1);
    }, count == 1 ? ThreadPool::kStreaming : ThreadPool::kBalanced);
}

}  // namespace tern
