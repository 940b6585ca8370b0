// Picks the next token from logits: repetition penalty, then top-k, top-p and
// min-p filtering, then temperature and a seeded draw (llama.cpp's order).
// temp 0 is greedy. Deterministic for a seed, independent of threads.
//
//   tern::Sampler sampler({.temp = 0.7f, .seed = 42});   // throws on a bad value
//   int32_t id = sampler.sample(session.logits(-1), session.n_vocab());
//   sampler.accept(id);
//
// Thread safety: a Sampler is used by one thread at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "tern/error.h"

namespace tern {

struct SamplingParams {
    float temp = 0.8f;           // >= 0; 0: greedy
    int32_t top_k = 40;          // >= 0; 0: off
    float top_p = 0.95f;         // in [0, 1]; 1: off
    float min_p = 0.05f;         // in [0, 1]; 0: off
    float repeat_penalty = 1.0f; // > 0; 1: off
    int32_t repeat_last_n = 64;  // >= 0: window of recent tokens the penalty sees
    uint64_t seed = 0;

    // Throws tern::Error naming the first parameter that is NaN, infinite or
    // outside its range, and the range.
    void validate() const;
};

class Sampler {
public:
    explicit Sampler(const SamplingParams& p);  // validates p

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
    // cands_ = the `keep` best candidates of the penalized logits, best first.
    void best(const float* logits, int64_t n_vocab, size_t keep);

    SamplingParams p_;
    std::mt19937_64 rng_;
    std::deque<int32_t> recent_;
    std::vector<Cand> cands_;
};

}  // namespace tern
