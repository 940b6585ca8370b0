#include "tern/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

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

int32_t Sampler::sample(const float* logits, int64_t n_vocab) {
    cands_.resize(size_t(n_vocab));
    for (int64_t i = 0; i < n_vocab; ++i) cands_[size_t(i)] = {int32_t(i), logits[i], 0.0f};

    // Repetition penalty (CTRL-style, as llama.cpp): shrink positive logits,
    // grow negative ones, once per distinct recent token.
    if (p_.repeat_penalty != 1.0f && !recent_.empty()) {
        std::unordered_set<int32_t> seen(recent_.begin(), recent_.end());
        for (int32_t id : seen) {
            if (id < 0 || id >= n_vocab) continue;
            float& l = cands_[size_t(id)].logit;
            l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
        }
    }

    auto by_logit = [](const Cand& a, const Cand& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
    if (p_.temp <= 0.0f) return std::min_element(cands_.begin(), cands_.end(), by_logit)->id;

    // top-k: keep the k largest (sorted from here on).
    size_t keep = cands_.size();
    if (p_.top_k > 0 && size_t(p_.top_k) < keep) keep = size_t(p_.top_k);
    std::partial_sort(cands_.begin(), cands_.begin() + long(keep), cands_.end(), by_logit);
    cands_.resize(keep);

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
