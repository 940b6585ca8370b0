// Picks the next token from logits: repetition penalty, then top-k, top-p and
// min-p filtering, then temperature and a seeded draw (llama.cpp's order).
// temp <= 0 is greedy. Deterministic for a seed, independent of threads.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace tern {

struct SamplingParams {
    float temp = 0.8f;
    int32_t top_k = 40;          // <= 0: off
    float top_p = 0.95f;         // >= 1: off
    float min_p = 0.05f;         // <= 0: off
    float repeat_penalty = 1.0f; // 1: off
    int32_t repeat_last_n = 64;  // window of recent tokens the penalty sees
    uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(const SamplingParams& p);

    // Chooses a token from `logits` [n_vocab] (not modified).
    int32_t sample(const float* logits, int64_t n_vocab);
    // Tells the sampler a token was added to the sequence (prompt or output),
    // for the repetition penalty window.
    void accept(int32_t token);
    void reset();

    const SamplingParams& params() const { return p_; }

private:
    struct Cand {
        int32_t id;
        float logit;
        float p;
    };
    SamplingParams p_;
    std::mt19937_64 rng_;
    std::deque<int32_t> recent_;
    std::vector<Cand> cands_;
};

}  // namespace tern
