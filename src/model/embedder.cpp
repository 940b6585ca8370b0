// Embedder (tern/embed.h): inputs packed whole into forward passes of up to
// n_batch tokens, each input its own Sequence (positions from 0, its own KV
// cache sized to it, so attention never crosses inputs); the output-normed
// rows that the pooling reads are pooled and normalised (SPEC §8).
#include "tern/embed.h"

#include <algorithm>
#include <cmath>

#include "model/forward.h"

namespace tern {

struct Embedder::State {
    State(const ModelWeights& w, int n_threads, int64_t n_batch, int64_t n_ctx, bool kv_f16_)
        : fwd(w, n_threads, n_batch, n_ctx, kv_f16_), kv_f16(kv_f16_) {}
    Forward fwd;
    bool kv_f16;
};

Embedder::Embedder(Model model, const EmbedOptions& o) : model_(std::move(model)) {
    const HParams& hp = hparams_of(model_);
    pooling_ = o.pooling ? *o.pooling : hp.pooling.value_or(Pooling::last);
    normalize_ = o.normalize;
    n_ctx_ = o.n_ctx > 0 ? o.n_ctx : hp.n_ctx_train;
    const int64_t n_batch = std::max<int64_t>(1, std::min(o.n_batch, n_ctx_));
    st_ = std::make_unique<State>(ModelAccess::weights(model_), o.n_threads > 0 ? o.n_threads : default_thread_count(),
                                  n_batch, n_ctx_, o.kv_f16);
}

Embedder::~Embedder() = default;

int64_t Embedder::n_embd() const { return hparams_of(model_).n_embd; }

std::vector<std::vector<float>> Embedder::embed(std::span<const std::vector<int32_t>> inputs) {
    const HParams& hp = hparams_of(model_);
    const int64_t H = hp.n_embd;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const int64_t len = int64_t(inputs[i].size());
        if (len == 0) throw Error("input " + std::to_string(i) + " has no tokens");
        if (len > n_ctx_)
            throw Error("input " + std::to_string(i) + " has " + std::to_string(len) + " tokens, more than the context of " +
                        std::to_string(n_ctx_) + " (use a larger -c, up to the model's " + std::to_string(hp.n_ctx_train) +
                        ", or shorten the input)");
        for (int32_t t : inputs[i])
            if (t < 0 || t >= hp.n_vocab)
                throw Error("input " + std::to_string(i) + ": token id " + std::to_string(t) +
                            " is outside the vocabulary (0.." + std::to_string(hp.n_vocab - 1) + ")");
    }
    auto wanted = [&](int64_t pos, int64_t len) {
        switch (pooling_) {
            case Pooling::cls: return pos == 0;
            case Pooling::last: return pos == len - 1;
            default: return true;  // none, mean
        }
    };

    std::vector<std::vector<float>> result(inputs.size());
    std::vector<double> mean;
    Forward& fwd = st_->fwd;
    const int64_t nb = fwd.n_batch();
    std::vector<int32_t> tokens;
    std::vector<Sequence*> seq_of;
    std::vector<int64_t> rows;
    struct Where {
        size_t input;
        int64_t pos;
    };
    std::vector<Where> row_src;
    std::vector<float> hidden;
    for (size_t i = 0; i < inputs.size();) {
        // A group: whole inputs while they fit one pass (or one long input,
        // which then continues over several passes).
        size_t j = i;
        int64_t total = 0;
        while (j < inputs.size() && (j == i || total + int64_t(inputs[j].size()) <= nb)) total += int64_t(inputs[j++].size());
        std::vector<Sequence> seqs;
        seqs.reserve(j - i);
        for (size_t k = i; k < j; ++k) {
            seqs.emplace_back(hp, int64_t(inputs[k].size()), st_->kv_f16);
            const bool per_token = pooling_ == Pooling::none;
            result[k].assign(size_t(per_token ? int64_t(inputs[k].size()) * H : H), 0.0f);
        }
        if (pooling_ == Pooling::mean) mean.assign(size_t((j - i) * H), 0.0);
        // Every (input, position) of the group in order, cut into passes of nb.
        size_t k = i;
        int64_t pos = 0;
        for (int64_t done = 0; done < total;) {
            tokens.clear(), seq_of.clear(), rows.clear(), row_src.clear();
            for (int64_t r = 0; r < nb && done < total; ++r, ++done) {
                const int64_t len = int64_t(inputs[k].size());
                tokens.push_back(inputs[k][size_t(pos)]);
                seq_of.push_back(&seqs[k - i]);
                if (wanted(pos, len)) {
                    rows.push_back(r);
                    row_src.push_back({k, pos});
                }
                if (++pos == len) ++k, pos = 0;
            }
            hidden.resize(rows.size() * size_t(H));
            fwd.run(tokens, seq_of, rows, hidden.data(), RowOutput::hidden);
            for (size_t r = 0; r < rows.size(); ++r) {
                const float* h = &hidden[r * size_t(H)];
                const Where& src = row_src[r];
                if (pooling_ == Pooling::mean) {
                    double* m = &mean[(src.input - i) * size_t(H)];
                    for (int64_t d = 0; d < H; ++d) m[d] += double(h[d]);
                } else {
                    const int64_t at = pooling_ == Pooling::none ? src.pos * H : 0;
                    std::copy(h, h + H, result[src.input].begin() + at);
                }
            }
        }
        for (size_t q = i; q < j; ++q) {
            std::vector<float>& e = result[q];
            if (pooling_ == Pooling::mean) {
                const double inv = 1.0 / double(inputs[q].size());
                for (int64_t d = 0; d < H; ++d) e[size_t(d)] = float(mean[(q - i) * size_t(H) + size_t(d)] * inv);
            }
            for (size_t r = 0; r < e.size(); r += size_t(H)) normalize_embedding(&e[r], &e[r], H, normalize_);
        }
        i = j;
    }
    return result;
}

std::vector<int32_t> embedding_tokens(const Tokenizer& tok, std::string_view text) {
    std::vector<int32_t> ids = tok.encode(text, true, true);
    if (tok.adds_eos()) ids.push_back(tok.eos());
    return ids;
}

void normalize_embedding(const float* in, float* out, int64_t n, int norm) {
    double sum = 0.0;
    if (norm < 0) {
        sum = 1.0;
    } else if (norm == 0) {  // max-abs, scaled so the largest is 32760 (int16 range)
        for (int64_t i = 0; i < n; ++i) sum = std::max(sum, double(std::fabs(in[i])));
        sum /= 32760.0;
    } else if (norm == 2) {
        for (int64_t i = 0; i < n; ++i) sum += double(in[i]) * double(in[i]);
        sum = std::sqrt(sum);
    } else {  // p-norm (1: taxicab)
        for (int64_t i = 0; i < n; ++i) sum += std::pow(double(std::fabs(in[i])), double(norm));
        sum = std::pow(sum, 1.0 / double(norm));
    }
    const float scale = sum > 0.0 ? float(1.0 / sum) : 0.0f;
    for (int64_t i = 0; i < n; ++i) out[i] = in[i] * scale;
}

float cosine_similarity(std::span<const float> a, std::span<const float> b) {
    if (a.size() != b.size())
        throw Error("cosine_similarity: vectors of " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                    " values");
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
        ab += double(a[i]) * double(b[i]);
        aa += double(a[i]) * double(a[i]);
        bb += double(b[i]) * double(b[i]);
    }
    if (aa == 0.0 || bb == 0.0) return aa == 0.0 && bb == 0.0 ? 1.0f : 0.0f;
    return float(ab / (std::sqrt(aa) * std::sqrt(bb)));
}

}  // namespace tern
