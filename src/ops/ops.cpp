#include "ops/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tern::ops {

void rmsnorm(const float* x, const float* w, int64_t dim, float eps, float* out) {
    // Sum of squares in double (no cancellation worries for dims in the
    // thousands), over eight fixed partial sums so the compiler vectorises it
    // without -ffast-math and the result does not depend on the build.
    double acc[8] = {};
    int64_t j = 0;
    for (; j + 8 <= dim; j += 8)
        for (int k = 0; k < 8; ++k) acc[k] += double(x[j + k]) * double(x[j + k]);
    double ss = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; j < dim; ++j) ss += double(x[j]) * double(x[j]);
    const float inv = float(1.0 / std::sqrt(ss / double(dim) + double(eps)));
    for (j = 0; j < dim; ++j) out[j] = w[j] * (x[j] * inv);
}

void RopeTable::build(const int32_t* positions, int64_t n_pos, int64_t head_dim, float theta) {
    half = head_dim / 2;
    cos.resize(size_t(n_pos * half));
    sin.resize(size_t(n_pos * half));
    for (int64_t i = 0; i < half; ++i) {
        const double inv_freq = std::pow(double(theta), -2.0 * double(i) / double(head_dim));
        for (int64_t t = 0; t < n_pos; ++t) {
            const double a = double(positions[t]) * inv_freq;
            cos[size_t(t * half + i)] = float(std::cos(a));
            sin[size_t(t * half + i)] = float(std::sin(a));
        }
    }
}

void rope_neox(float* x, int64_t n_heads, int64_t head_dim, const RopeTable& rt, int64_t t) {
    const int64_t half = head_dim / 2;
    const float* c = &rt.cos[size_t(t * half)];
    const float* s = &rt.sin[size_t(t * half)];
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        for (int64_t i = 0; i < half; ++i) {
            const float a = v[i], b = v[i + half];
            v[i] = a * c[i] - b * s[i];
            v[i + half] = b * c[i] + a * s[i];
        }
    }
}

void rope_norm(float* x, int64_t n_heads, int64_t head_dim, const RopeTable& rt, int64_t t) {
    const int64_t half = head_dim / 2;
    const float* c = &rt.cos[size_t(t * half)];
    const float* s = &rt.sin[size_t(t * half)];
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        for (int64_t i = 0; i < half; ++i) {
            const float a = v[2 * i], b = v[2 * i + 1];
            v[2 * i] = a * c[i] - b * s[i];
            v[2 * i + 1] = b * c[i] + a * s[i];
        }
    }
}

namespace {

// e^x for x <= 0, relative error below 3e-7: x = k ln2 + r (Cody-Waite,
// |r| <= ln2/2), e^r by its degree-6 Taylor polynomial, 2^k by building the
// exponent bits. Branch-free, so the softmax loop vectorises; libm's expf is
// a call per element and takes a slow errno path on underflow, which long
// contexts hit constantly.
// Below kExpCutoff = -64 the result is exactly 0: e^-64 = 1.6e-28 is far
// under float resolution next to the maximum's e^0 = 1 (even summed over a
// whole context), and tiny probabilities would make the weighted sum of the
// values produce subnormals, which this CPU computes ~100x slower (measured:
// a third of prefill time on a model with sharp attention).
// The comparisons are on the bits as unsigned integers (for x <= 0, a larger
// magnitude is a larger pattern): a float compare would keep GCC from
// vectorising under -ftrapping-math.
constexpr uint32_t kExpCutoffBits = 0xC2800000u;  // -64.0f
inline float exp_nonpositive(float x) {
    uint32_t xb;
    std::memcpy(&xb, &x, 4);
    const uint32_t keep = xb > kExpCutoffBits ? 0u : ~0u;
    xb = xb > kExpCutoffBits ? kExpCutoffBits : xb;
    std::memcpy(&x, &xb, 4);
    const float t = x * 1.44269504088896341f;
    const int32_t k = -int32_t(0.5f - t);  // round(t): 0.5 - t > 0, so the cast floors it
    const float kf = float(k);
    const float r = (x - kf * 0.693145751953125f) - kf * 1.428606765330187045e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = (k + 127) << 23;  // 2^k, k in [-93, 0]
    float scale;
    std::memcpy(&scale, &bits, 4);
    const float e = p * scale;
    uint32_t eb;
    std::memcpy(&eb, &e, 4);
    eb &= keep;
    float out;
    std::memcpy(&out, &eb, 4);
    return out;
}

}  // namespace

void softmax(float* x, int64_t n) {
    if (n <= 0) return;
    const float mx = *std::max_element(x, x + n);
    for (int64_t j = 0; j < n; ++j) x[j] = exp_nonpositive(x[j] - mx);
    double acc[4] = {};
    int64_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (int k = 0; k < 4; ++k) acc[k] += double(x[j + k]);
    double sum = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (; j < n; ++j) sum += double(x[j]);
    const float inv = float(1.0 / sum);
    for (j = 0; j < n; ++j) x[j] *= inv;
}

void relu2_mul(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
        // max(g, 0) by clearing negative values through their sign bit: a
        // float compare would keep GCC from vectorising (-ftrapping-math).
        uint32_t b;
        std::memcpy(&b, &gate[j], 4);
        b &= ~uint32_t(int32_t(b) >> 31);
        float r;
        std::memcpy(&r, &b, 4);
        out[j] = r * r * up[j];
    }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t j = 0; j < n; ++j) out[j] = gate[j] / (1.0f + std::exp(-gate[j])) * up[j];
}

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
    constexpr float kSqrt2OverPi = 0.79788456080286535588f;
    for (int64_t j = 0; j < n; ++j) {
        const float g = gate[j];
        out[j] = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * (g + 0.044715f * g * g * g))) * up[j];
    }
}

}  // namespace tern::ops
