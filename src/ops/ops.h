// RoPE (SPEC §2): plain portable code, a small share of the time, the same on
// every kernel table. RMSNorm, softmax, the FFN activations and the ternary
// scaling run often enough to be table entries (kernels/rowops.inc, the same
// bits on every table).
#pragma once

#include <cstdint>
#include <vector>

namespace tern::ops {

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

}  // namespace tern::ops
