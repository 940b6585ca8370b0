// tern::Sampler against its documented order, written out plainly here:
// repetition penalty over the whole vocabulary, every candidate sorted (higher
// logit first, then lower id), top-k, top-p, min-p, temperature, a draw of 53
// random bits. The sampler finds the top k in one pass over the logits instead
// of sorting them all; whatever the logits (ties, penalties that lift or sink
// a token, tiny vocabularies), it must choose the very same tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>
#include <set>
#include <vector>

#include "tern/sampler.h"

namespace {

using tern::SamplingParams;

struct Cand {
    int32_t id;
    float logit, p;
};

// The sampler as its header describes it, with no shortcut.
class PlainSampler {
public:
    explicit PlainSampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}
    void accept(int32_t t) {
        if (p_.repeat_last_n <= 0) return;
        recent_.push_back(t);
        while (int32_t(recent_.size()) > p_.repeat_last_n) recent_.pop_front();
    }
    int32_t sample(const std::vector<float>& logits) {
        std::vector<Cand> c;
        for (size_t i = 0; i < logits.size(); ++i) c.push_back({int32_t(i), logits[i], 0.0f});
        if (p_.repeat_penalty != 1.0f)
            for (int32_t id : std::set<int32_t>(recent_.begin(), recent_.end()))
                if (id >= 0 && id < int32_t(c.size())) {
                    float& l = c[size_t(id)].logit;
                    l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
                }
        std::sort(c.begin(), c.end(), [](const Cand& a, const Cand& b) {
            return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
        });
        if (p_.temp <= 0.0f) return c[0].id;
        if (p_.top_k > 0 && size_t(p_.top_k) < c.size()) c.resize(size_t(p_.top_k));
        auto softmax = [&](float temp) {
            double sum = 0;
            for (auto& x : c) sum += x.p = std::exp((x.logit - c[0].logit) / temp);
            for (auto& x : c) x.p = float(x.p / sum);
        };
        if (p_.top_p < 1.0f) {
            softmax(1.0f);
            double cum = 0;
            size_t n = 0;
            while (n < c.size()) {
                cum += c[n++].p;
                if (cum >= p_.top_p) break;
            }
            c.resize(std::max<size_t>(1, n));
        }
        if (p_.min_p > 0.0f) {
            softmax(1.0f);
            size_t n = 1;
            while (n < c.size() && c[n].p >= c[0].p * p_.min_p) ++n;
            c.resize(n);
        }
        softmax(p_.temp);
        const double u = double(rng_() >> 11) * (1.0 / 9007199254740992.0);
        double cum = 0;
        for (const auto& x : c)
            if (u < (cum += x.p)) return x.id;
        return c.back().id;
    }

private:
    SamplingParams p_;
    std::mt19937_64 rng_;
    std::deque<int32_t> recent_;
};

TEST(Sampler, ChoosesWhatTheDocumentedOrderChooses) {
    std::mt19937 rng(11);
    int cases = 0, greedy_ties = 0;
    for (int32_t vocab : {1, 2, 7, 64, 3001, 40000})
        for (int round = 0; round < 12; ++round) {
            SamplingParams p;
            p.temp = std::vector<float>{0.0f, 0.4f, 0.8f, 1.7f}[size_t(round % 4)];
            p.top_k = std::vector<int32_t>{0, 1, 5, 40, 50000}[size_t(rng() % 5)];
            p.top_p = std::vector<float>{1.0f, 0.95f, 0.5f}[size_t(rng() % 3)];
            p.min_p = std::vector<float>{0.0f, 0.05f, 0.3f}[size_t(rng() % 3)];
            p.repeat_penalty = std::vector<float>{1.0f, 1.3f, 0.6f}[size_t(round / 4)];
            p.repeat_last_n = int32_t(rng() % 80);
            p.seed = rng();
            tern::Sampler fast(p);
            PlainSampler plain(p);
            // Coarse logits (many exact ties), a few far above the rest.
            std::vector<float> logits(static_cast<size_t>(vocab));
            for (float& l : logits) l = float(int(rng() % 41) - 20) * 0.25f + (rng() % 500 == 0 ? 12.0f : 0.0f);
            // A prompt: repeated tokens, and ids outside the vocabulary (ignored).
            for (int i = 0; i < 30; ++i) {
                const int32_t t = i % 7 == 6 ? vocab + i : int32_t(rng() % uint32_t(std::min(vocab, 50)));
                fast.accept(t);
                plain.accept(t);
            }
            for (int step = 0; step < 25; ++step) {
                const int32_t want = plain.sample(logits), got = fast.sample(logits.data(), vocab);
                ASSERT_EQ(got, want) << "vocab " << vocab << " round " << round << " step " << step << " temp " << p.temp
                                     << " top_k " << p.top_k << " top_p " << p.top_p << " min_p " << p.min_p
                                     << " penalty " << p.repeat_penalty << " last_n " << p.repeat_last_n;
                if (p.temp == 0.0f && std::count(logits.begin(), logits.end(), logits[size_t(got)]) > 1) ++greedy_ties;
                fast.accept(got);
                plain.accept(got);
                logits[size_t(rng() % uint32_t(vocab))] += 0.5f;  // the next step's logits differ a little
                ++cases;
            }
        }
    EXPECT_EQ(cases, 6 * 12 * 25);
    EXPECT_GT(greedy_ties, 0);  // ties were met, and broken towards the lower id
}

TEST(Sampler, NoLogitsIsAnError) {
    tern::Sampler s(SamplingParams{});
    float l = 0.0f;
    EXPECT_THROW(s.sample(&l, 0), tern::Error);
}

}  // namespace
