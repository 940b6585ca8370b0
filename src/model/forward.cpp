// The forward pass (SPEC §2), one function that reads top to bottom like the
// spec, over preallocated activations; attention is attention.cpp, the cache
// kv_cache.cpp. Prefill runs a batch of tokens through matrix-matrix kernels;
// decode is the same code with one token per sequence.
#include "model/forward.h"

#include <algorithm>

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
    h_.resize(nb * size_t(std::max(hp.n_embd, hp.n_ff)));
    q_.resize(nb * size_t(hp.n_embd));
    k_.resize(nb * size_t(hp.kv_dim()));
    v_.resize(nb * size_t(hp.kv_dim()));
    att_.resize(nb * size_t(hp.n_embd));
    gate_.resize(nb * size_t(hp.n_ff));
    up_.resize(nb * size_t(hp.n_ff));
    pos_.resize(nb);
    if (uses_qdot(w)) out_acts_ = AlignedBuffer(size_t(n_batch * kernels::qdot_prepared_bytes(hp.n_embd)));
}

void Forward::run(std::span<const int32_t> tokens, std::span<Sequence* const> seqs, std::span<const int64_t> logit_rows,
                  float* logits_out) {
    const ModelWeights& w = w_;
    const HParams& hp = w.hp;
    const int64_t n = int64_t(tokens.size());
    const int64_t H = hp.n_embd, I = hp.n_ff, KV = hp.kv_dim(), D = hp.head_dim;
    const float eps = hp.rms_eps;
    const BitLinear& bitlinear = bitlinear_;

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

    // x = E[token]
    for (int64_t t = 0; t < n; ++t)
        w.table->dequantize_row(w.tok_embd.type, w.tok_embd.data + int64_t(tokens[size_t(t)]) * w.tok_embd.row_bytes,
                                &x_[size_t(t * H)], H);

    // Per-token work between matrix products (RMSNorm, the FFN activation)
    // runs inside BitLinear::quantize's parallel region, one token at a
    // time, so it is spread over the threads with no extra hand-off.
    auto rmsnorm = [&](const float* in, const std::vector<float>& gain, int64_t dim, int64_t t, int64_t out_row) {
        float* out = &h_[size_t(out_row * dim)];
        ops::rmsnorm(in + t * dim, gain.data(), dim, eps, out);
        return static_cast<const float*>(out);
    };

    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const Layer& L = w.layers[size_t(l)];

        // ---- attention: q, k, v = W · rms(x); RoPE; cache; attend; x += W_o · subnorm(att)
        bitlinear.quantize(n, H, acts_, [&](int64_t t) { return rmsnorm(x_.data(), L.attn_norm, H, t, t); });
        const BitLinear::Output qkv[] = {{&L.q.w, q_.data()}, {&L.k.w, k_.data()}, {&L.v.w, v_.data()}};
        bitlinear.apply(qkv, acts_);
        pool_.parallel_for(n, 1, [&](int, int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                float* q = &q_[size_t(t * H)];
                float* k = &k_[size_t(t * KV)];
                if (hp.rope == RopeStyle::neox) {
                    ops::rope_neox(q, hp.n_head, D, rope_, t);
                    ops::rope_neox(k, hp.n_head_kv, D, rope_, t);
                } else {
                    ops::rope_norm(q, hp.n_head, D, rope_, t);
                    ops::rope_norm(k, hp.n_head_kv, D, rope_, t);
                }
                seqs[size_t(t)]->kv.store(l, pos_[size_t(t)], k, &v_[size_t(t * KV)]);
            }
        });
        causal_attention(*w.table, pool_, hp, groups_, l, q_.data(), att_.data(), attn_);
        bitlinear.quantize(n, H, acts_, [&](int64_t t) {
            return hp.sub_norms ? rmsnorm(att_.data(), L.attn_sub_norm, H, t, t) : &att_[size_t(t * H)];
        });
        bitlinear.apply(L.o.w, acts_, x_.data(), /*accumulate=*/true);

        // ---- feed-forward: x += W_down · subnorm(act(W_gate · rms(x)) · (W_up · rms(x)))
        bitlinear.quantize(n, H, acts_, [&](int64_t t) { return rmsnorm(x_.data(), L.ffn_norm, H, t, t); });
        const BitLinear::Output gate_up[] = {{&L.gate.w, gate_.data()}, {&L.up.w, up_.data()}};
        bitlinear.apply(gate_up, acts_);
        bitlinear.quantize(n, I, acts_, [&](int64_t t) {
            float* g = &gate_[size_t(t * I)];
            if (hp.ffn_act == FfnAct::relu2)
                ops::relu2_mul(g, &up_[size_t(t * I)], g, I);
            else
                ops::silu_mul(g, &up_[size_t(t * I)], g, I);
            return hp.sub_norms ? rmsnorm(gate_.data(), L.ffn_sub_norm, I, t, t) : static_cast<const float*>(g);
        });
        bitlinear.apply(L.down.w, acts_, x_.data(), /*accumulate=*/true);
    }

    for (size_t i = 0; i < seqs.size(); ++i) seqs[i]->tokens.push_back(tokens[i]);

    if (!logit_rows.empty()) {
        // logits = W_out · rms(x), for the rows whose logits are wanted,
        // gathered in order: float products, or for Q8_0 / Q6_K integer ones
        // against the normed rows quantized to int16 (SPEC §2).
        const int64_t count = int64_t(logit_rows.size());
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
                w.table->qdot_matmul(out.type, out.data, out.row_bytes, H, out_acts_.data(), count, logits_out,
                                     hp.n_vocab, r0, r1);
            else
                w.table->float_matmul(out.type, out.data, out.row_bytes, H, h_.data(), count, H, logits_out,
                                      hp.n_vocab, r0, r1);
        }, count == 1 ? ThreadPool::kStreaming : ThreadPool::kBalanced);
    }
}

}  // namespace tern
