#include "ops/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tern::ops {

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

}  // namespace tern::ops
