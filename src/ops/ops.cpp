#include "ops/ops.h"

#include <algorithm>
#include <cmath>

namespace tern::ops {

void rmsnorm(const float* x, const float* w, int64_t dim, float eps, float* out) {
    double ss = 0.0;  // double: no cancellation worries for dims in the thousands
    for (int64_t j = 0; j < dim; ++j) ss += double(x[j]) * double(x[j]);
    const float inv = float(1.0 / std::sqrt(ss / double(dim) + double(eps)));
    for (int64_t j = 0; j < dim; ++j) out[j] = w[j] * (x[j] * inv);
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

void softmax(float* x, int64_t n) {
    if (n <= 0) return;
    const float mx = *std::max_element(x, x + n);
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        x[j] = std::exp(x[j] - mx);
        sum += x[j];
    }
    const float inv = float(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) x[j] *= inv;
}

void relu2_mul(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
        const float r = gate[j] > 0.0f ? gate[j] : 0.0f;
        out[j] = r * r * up[j];
    }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t j = 0; j < n; ++j) out[j] = gate[j] / (1.0f + std::exp(-gate[j])) * up[j];
}

float dot(const float* a, const float* b, int64_t n) {
    // Eight partial sums: lets the compiler vectorise without -ffast-math, and
    // the order is fixed, so results do not depend on the build.
    float acc[8] = {};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; ++k) acc[k] += a[j + k] * b[j + k];
    float s = 0.0f;
    for (; j < n; ++j) s += a[j] * b[j];
    return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

}  // namespace tern::ops
