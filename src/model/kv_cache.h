// The KV cache of one sequence, f32 or fp16, laid out for the table's
// attention kernels (kernels.h):
//   K is transposed in blocks of B = kAttnKeyBlock positions, per layer
//     [k_ctx / B, kv_dim, B]: within a block, row j holds k[j] of consecutive
//     positions, so the scores of a block are sums over rows with the keys
//     along the vector lanes (and one token's K lands in one block);
//   V is one row per position, per layer [n_ctx, kv_dim].
// Memory is a lazily backed mapping (AlignedBuffer): positions never used
// cost nothing.
#pragma once

#include <cstdint>

#include "kernels/aligned_buffer.h"
#include "kernels/kernels.h"

namespace tern {

class KvCache {
public:
    static constexpr int64_t kBlock = kernels::kAttnKeyBlock;

    KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, bool f16);

    int64_t n_ctx() const { return n_ctx_; }
    int64_t k_ctx() const { return k_ctx_; }  // n_ctx rounded up to whole key blocks
    int64_t kv_dim() const { return kv_dim_; }
    bool f16() const { return f16_; }
    size_t elem() const { return f16_ ? 2 : 4; }

    // Writes position `pos`'s k and v ([kv_dim] floats each) into `layer`.
    void store(int64_t layer, int64_t pos, const float* k, const float* v);

    // Layer `layer`'s K blocks and V rows (elements of elem() bytes).
    uint8_t* k_layer(int64_t layer) { return k_.data() + size_t(layer * k_ctx_ * kv_dim_) * elem(); }
    uint8_t* v_layer(int64_t layer) { return v_.data() + size_t(layer * n_ctx_ * kv_dim_) * elem(); }
    const uint8_t* k_layer(int64_t layer) const { return const_cast<KvCache*>(this)->k_layer(layer); }
    const uint8_t* v_layer(int64_t layer) const { return const_cast<KvCache*>(this)->v_layer(layer); }
    // Bytes of one layer's K blocks / V rows that hold positions < n.
    size_t k_bytes(int64_t n) const { return size_t((n + kBlock - 1) / kBlock * kBlock * kv_dim_) * elem(); }
    size_t v_bytes(int64_t n) const { return size_t(n * kv_dim_) * elem(); }

private:
    int64_t n_ctx_, k_ctx_, kv_dim_;
    bool f16_;
    AlignedBuffer k_, v_;
};

}  // namespace tern
