// Float operations of the forward pass (SPEC §2, §4). Plain portable code:
// they are a small share of the time next to the ternary matmuls, and being
// the same code on every kernel table keeps forward passes table-independent.
#pragma once

#include <cstdint>
#include <vector>

namespace tern::ops {

// out[j] = w[j] * x[j] / sqrt(mean(x^2) + eps), for one row of `dim` values.
// out may alias x.
void rmsnorm(const float* x, const float* w, int64_t dim, float eps, float* out);

// cos/sin of p * theta^(-2i/D) for i < D/2, for each position p, computed in
// double: [n_pos, D/2] each.
struct RopeTable {
    std::vector<float> cos, sin;
    int64_t half = 0;
    void build(const int32_t* positions, int64_t n_pos, int64_t head_dim, float theta);
};

// Rotates every head of one token's q or k in place. NEOX pairs (i, i + D/2);
// NORM pairs (2i, 2i + 1). `t` selects the token's row in the table.
void rope_neox(float* x, int64_t n_heads, int64_t head_dim, const RopeTable& rt, int64_t t);
void rope_norm(float* x, int64_t n_heads, int64_t head_dim, const RopeTable& rt, int64_t t);

// In-place softmax over n values (max-subtracted).
void softmax(float* x, int64_t n);

// f = act(gate) * up, elementwise.
void relu2_mul(const float* gate, const float* up, float* out, int64_t n);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
// GELU, tanh approximation (gemma3): 0.5·g·(1 + tanh(√(2/π)·(g + 0.044715·g³))).
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n);

}  // namespace tern::ops
