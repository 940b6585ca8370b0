// Session: one sequence through the forward pass (forward.cpp), a prompt in
// batches of n_batch tokens.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/session_state.h"
#include "tern/session.h"

namespace tern {

Session::Session(Model model, const SessionOptions& opts) : model_(std::move(model)) {
    require_output_head(model_);
    const HParams& hp = hparams_of(model_);
    n_ctx_ = opts.n_ctx > 0 ? opts.n_ctx : hp.n_ctx_train;
    n_batch_ = std::max<int64_t>(1, std::min(opts.n_batch, n_ctx_));
    st_ = std::make_unique<State>(ModelAccess::weights(model_), opts.n_threads > 0 ? opts.n_threads : default_thread_count(),
                                  n_ctx_, n_batch_, opts.kv_f16);
}

Session::~Session() = default;

ThreadPool& Session::pool() { return st_->fwd.pool(); }

int64_t Session::n_past() const { return st_->seq.n_past(); }
const std::vector<int32_t>& Session::tokens() const { return st_->seq.tokens; }

void Session::truncate(int64_t n) {
    if (n < 0 || n > n_past()) throw Error("Session::truncate: position " + std::to_string(n) + " is past n_past");
    st_->seq.tokens.resize(size_t(n));
}

int64_t Session::n_vocab() const { return hparams_of(model_).n_vocab; }
int Session::n_threads() const { return st_->fwd.pool().size(); }

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
    if (n_past() + n > n_ctx_)
        throw Error("the context is full: " + std::to_string(n_past()) + " + " + std::to_string(n) + " tokens exceed n_ctx " +
                    std::to_string(n_ctx_) + " (use a larger -c)");
    for (int32_t t : tokens)
        if (t < 0 || t >= hp.n_vocab)
            throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(hp.n_vocab - 1) +
                        ")");
    n_logits_ = all_logits ? n : 1;
    logits_.resize(size_t(n_logits_ * hp.n_vocab));
    std::vector<Sequence*> seqs(size_t(std::min(n, n_batch_)), &st_->seq);
    std::vector<int64_t> rows;
    for (int64_t b = 0; b < n; b += n_batch_) {
        const int64_t m = std::min(n_batch_, n - b);
        rows.clear();
        if (all_logits) {
            for (int64_t i = 0; i < m; ++i) rows.push_back(i);
        } else if (b + m == n) {
            rows.push_back(m - 1);
        }
        st_->fwd.run(tokens.subspan(size_t(b), size_t(m)), std::span<Sequence* const>(seqs.data(), size_t(m)), rows,
                     all_logits ? logits_.data() + b * hp.n_vocab : logits_.data());
    }
}

}  // namespace tern
