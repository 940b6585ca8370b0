#include "tern/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace tern {

namespace {
void check(bool ok, const char* name, double value, const char* range) {
    if (!ok) throw Error(std::string("sampling parameter ") + name + " = " + std::to_string(value) + " is invalid: it must be " + range);
}
}  // namespace

void SamplingParams::validate() const {
    check(std::isfinite(temp) && temp >= 0, "temp", temp, "a finite number >= 0 (0: greedy)");
    check(top_k >= 0, "top_k", top_k, ">= 0 (0: off)");
    check(std::isfinite(top_p) && top_p >= 0 && top_p <= 1, "top_p", top_p, "in [0, 1] (1: off)");
    check(std::isfinite(min_p) && min_p >= 0 && min_p <= 1, "min_p", min_p, "in [0, 1] (0: off)");
    check(std::isfinite(repeat_penalty) && repeat_penalty > 0, "repeat_penalty", repeat_penalty, "a finite number > 0 (1: off)");
    check(repeat_last_n >= 0, "repeat_last_n", repeat_last_n, ">= 0");
}

Sampler::Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) { p.validate(); }

void Sampler::reset() {
    rng_.seed(p_.seed);
    recent_.clear();
}

void Sampler::accept(int32_t token) {
    if (p_.repeat_last_n <= 0) return;
    recent_.push_back(token);
    while (int32_t(recent_.size()) > p_.repeat_last_n) recent_.pop_front();
}

// The candidates best first: higher logit, then lower id (a total order, so
// the k best and their order are one answer however they are found).
namespace {
struct ByLogit {
    template <class C>
    bool operator()(const C& a, const C& b) const {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    }
};
struct ById {
    template <class C>
    bool operator()(const C& a, const C& b) const {
        return a.id < b.id;
    }
};
}  // namespace

void Sampler::best(const float* logits, int64_t n_vocab, size_t keep) {
    // The repetition penalty (CTRL-style, as llama.cpp): shrink positive
    // logits, grow negative ones (or the reverse for a penalty < 1), once per
    // distinct recent token.
    std::vector<Cand> penalized;  // by id (a member would change the class's layout: ABI)
    if (p_.repeat_penalty != 1.0f)
        for (int32_t id : recent_)
            if (id >= 0 && id < n_vocab) {
                const float l = logits[id];
                penalized.push_back({id, l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty, 0.0f});
            }
    std::sort(penalized.begin(), penalized.end(), ById{});
    penalized.erase(std::unique(penalized.begin(), penalized.end(), [](const Cand& a, const Cand& b) { return a.id == b.id; }),
                     penalized.end());
    const size_t m = penalized.size(), n = size_t(n_vocab);
    auto is_penalized = [&](int32_t id) {
        return std::binary_search(penalized.begin(), penalized.end(), Cand{id, 0.0f, 0.0f}, ById{});
    };
    if (keep + m >= n) {  // (nearly) everything: sort it all
        cands_.resize(n);
        for (size_t i = 0; i < n; ++i) cands_[i] = {int32_t(i), logits[i], 0.0f};
        for (const Cand& c : penalized) cands_[size_t(c.id)].logit = c.logit;
        std::partial_sort(cands_.begin(), cands_.begin() + long(keep), cands_.end(), ByLogit{});
        cands_.resize(keep);
        return;
    }
    // One pass over the logits as they are, keeping the keep + m best in a
    // heap whose top is the worst kept: most logits lose to it in one
    // comparison (a later id never wins a tie). At most m of those are
    // penalized tokens, so what remains without them holds the `keep` best
    // unpenalized ones; the penalized join with their own logits.
    const size_t cap = keep + m;
    cands_.resize(cap);
    for (size_t i = 0; i < cap; ++i) cands_[i] = {int32_t(i), logits[i], 0.0f};
    std::make_heap(cands_.begin(), cands_.end(), ByLogit{});
    float worst = cands_.front().logit;
    auto consider = [&](size_t i) {
        if (logits[i] > worst) {
            std::pop_heap(cands_.begin(), cands_.end(), ByLogit{});
            cands_.back() = {int32_t(i), logits[i], 0.0f};
            std::push_heap(cands_.begin(), cands_.end(), ByLogit{});
            worst = cands_.front().logit;
        }
    };
    // Runs of 16 first tested as a whole, without a branch per logit: past
    // the first few thousand logits hardly any run holds a winner (a 128k
    // vocabulary, defaults: 80-100 us a token, against 90-130 with a branch
    // per logit and 280-290 sorting every candidate).
    constexpr size_t kRun = 16;
    size_t i = cap;
    for (; i + kRun <= n; i += kRun) {
        int any = 0;
        for (size_t j = 0; j < kRun; ++j) any |= int(logits[i + j] > worst);
        if (any)
            for (size_t j = 0; j < kRun; ++j) consider(i + j);
    }
    for (; i < n; ++i) consider(i);
    if (m > 0) {
        std::erase_if(cands_, [&](const Cand& c) { return is_penalized(c.id); });
        cands_.insert(cands_.end(), penalized.begin(), penalized.end());
    }
    std::sort(cands_.begin(), cands_.end(), ByLogit{});
    cands_.resize(keep);
}

int32_t Sampler::sample(const float* logits, int64_t n_vocab) {
    if (n_vocab <= 0) throw Error("Sampler::sample: no logits (n_vocab = " + std::to_string(n_vocab) + ")");
    if (p_.temp <= 0.0f) {
        best(logits, n_vocab, 1);
        return cands_[0].id;
    }
    // top-k: keep the k best (sorted from here on).
    size_t keep = size_t(n_vocab);
    if (p_.top_k > 0 && size_t(p_.top_k) < keep) keep = size_t(p_.top_k);
    best(logits, n_vocab, keep);

    auto softmax = [&](float temp) {
        const float mx = cands_[0].logit;
        double sum = 0;
        for (auto& c : cands_) {
            c.p = std::exp((c.logit - mx) / temp);
            sum += c.p;
        }
        for (auto& c : cands_) c.p = float(c.p / sum);
    };

    // top-p: the smallest prefix whose probability reaches p.
    if (p_.top_p < 1.0f) {
        softmax(1.0f);
        double cum = 0;
        size_t n = 0;
        while (n < cands_.size()) {
            cum += cands_[n++].p;
            if (cum >= p_.top_p) break;
        }
        cands_.resize(std::max<size_t>(1, n));
    }
    // min-p: drop tokens less likely than min_p times the most likely.
    if (p_.min_p > 0.0f) {
        softmax(1.0f);
        const float floor = cands_[0].p * p_.min_p;
        size_t n = 1;
        while (n < cands_.size() && cands_[n].p >= floor) ++n;
        cands_.resize(n);
    }

    softmax(p_.temp);
    // A draw in [0, 1) from 53 random bits: the same on every platform.
    const double u = double(rng_() >> 11) * (1.0 / 9007199254740992.0);
    double cum = 0;
    for (const auto& c : cands_) {
        cum += c.p;
        if (u < cum) return c.id;
    }
    return cands_.back().id;
}

}  // namespace tern
