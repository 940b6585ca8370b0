// BatchSession (tern/batch.h): several Sequences through one Forward pass.
#include <algorithm>

#include "model/forward.h"
#include "tern/batch.h"

namespace tern {

struct BatchSession::State {
    State(const ModelWeights& w, const BatchOptions& o, int64_t n_ctx, int64_t n_batch)
        : fwd(w, o.n_threads > 0 ? o.n_threads : default_thread_count(), n_batch, n_ctx, o.kv_f16) {
        for (int i = 0; i < o.n_seq; ++i) seqs.emplace_back(w.hp, n_ctx, o.kv_f16);
    }
    Forward fwd;
    std::vector<Sequence> seqs;
    std::vector<float> logits;      // [rows kept, n_vocab]
    std::vector<int64_t> row_of;    // item -> row in logits, or -1
};

BatchSession::BatchSession(Model model, const BatchOptions& o) : model_(std::move(model)) {
    require_output_head(model_);
    const HParams& hp = hparams_of(model_);
    if (o.n_seq < 1 || o.n_seq > 4096) throw Error("n_seq must be in 1 .. 4096, not " + std::to_string(o.n_seq));
    n_ctx_ = o.n_ctx > 0 ? o.n_ctx : hp.n_ctx_train;
    const int64_t n_batch = std::max<int64_t>(1, o.n_batch);
    st_ = std::make_unique<State>(ModelAccess::weights(model_), o, n_ctx_, n_batch);
}

BatchSession::~BatchSession() = default;

int BatchSession::n_seq() const { return int(st_->seqs.size()); }
int64_t BatchSession::n_vocab() const { return hparams_of(model_).n_vocab; }

namespace {
void check_seq(int seq, int n_seq) {
    if (seq < 0 || seq >= n_seq)
        throw Error("sequence " + std::to_string(seq) + " does not exist (0 .. " + std::to_string(n_seq - 1) + ")");
}
}  // namespace

int64_t BatchSession::n_past(int seq) const {
    check_seq(seq, n_seq());
    return st_->seqs[size_t(seq)].n_past();
}

const std::vector<int32_t>& BatchSession::tokens(int seq) const {
    check_seq(seq, n_seq());
    return st_->seqs[size_t(seq)].tokens;
}

void BatchSession::truncate(int seq, int64_t n) {
    check_seq(seq, n_seq());
    Sequence& s = st_->seqs[size_t(seq)];
    if (n < 0 || n > s.n_past()) throw Error("BatchSession::truncate: position " + std::to_string(n) + " is past n_past");
    s.tokens.resize(size_t(n));
}

const float* BatchSession::logits(size_t i) const {
    if (i >= st_->row_of.size() || st_->row_of[i] < 0)
        throw Error("BatchSession::logits: item " + std::to_string(i) + " of the last eval did not ask for logits");
    return st_->logits.data() + st_->row_of[i] * n_vocab();
}

void BatchSession::eval(std::span<const Item> items) {
    State& st = *st_;
    const int64_t V = n_vocab();
    // Check everything first: an error evaluates nothing.
    std::vector<int64_t> added(st.seqs.size(), 0);
    std::vector<bool> done(st.seqs.size(), false);
    int prev = -1;
    for (const Item& it : items) {
        check_seq(it.seq, n_seq());
        if (it.token < 0 || it.token >= V)
            throw Error("token id " + std::to_string(it.token) + " is outside the vocabulary (0.." + std::to_string(V - 1) + ")");
        if (it.seq != prev) {
            if (done[size_t(it.seq)])
                throw Error("sequence " + std::to_string(it.seq) + "'s items are not consecutive in the batch");
            if (prev >= 0) done[size_t(prev)] = true;
            prev = it.seq;
        }
        if (st.seqs[size_t(it.seq)].n_past() + ++added[size_t(it.seq)] > n_ctx_)
            throw Error("sequence " + std::to_string(it.seq) + ": the context is full (n_ctx " + std::to_string(n_ctx_) + ")");
    }
    st.row_of.assign(items.size(), -1);
    int64_t n_rows = 0;
    for (size_t i = 0; i < items.size(); ++i)
        if (items[i].logits) st.row_of[i] = n_rows++;
    st.logits.resize(size_t(n_rows * V));

    // Forward passes of up to n_batch items (a sequence split between two
    // passes simply continues in the second).
    const int64_t nb = st.fwd.n_batch();
    std::vector<int32_t> tokens;
    std::vector<Sequence*> seqs;
    std::vector<int64_t> rows;
    for (size_t b = 0; b < items.size(); b += size_t(nb)) {
        const size_t e = std::min(items.size(), b + size_t(nb));
        tokens.clear(), seqs.clear(), rows.clear();
        int64_t first_row = -1;
        for (size_t i = b; i < e; ++i) {
            tokens.push_back(items[i].token);
            seqs.push_back(&st.seqs[size_t(items[i].seq)]);
            if (items[i].logits) {
                rows.push_back(int64_t(i - b));
                if (first_row < 0) first_row = st.row_of[i];
            }
        }
        st.fwd.run(tokens, seqs, rows, rows.empty() ? nullptr : st.logits.data() + first_row * V);
    }
}

}  // namespace tern
