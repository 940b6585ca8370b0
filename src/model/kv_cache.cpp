#include "model/kv_cache.h"

#include <cstring>

#include "kernels/formats.h"

namespace tern {

KvCache::KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, bool f16)
    : n_ctx_(n_ctx), k_ctx_(round_up(n_ctx, kBlock)), kv_dim_(kv_dim), f16_(f16),
      k_(size_t(n_layer * k_ctx_ * kv_dim) * elem()), v_(size_t(n_layer * n_ctx * kv_dim) * elem()) {}

void KvCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
    const size_t e = elem();
    uint8_t* kblock = k_layer(layer) + size_t((pos / kBlock) * kv_dim_ * kBlock + pos % kBlock) * e;
    uint8_t* vrow = v_layer(layer) + size_t(pos * kv_dim_) * e;
    if (f16_) {
        for (int64_t j = 0; j < kv_dim_; ++j) {
            const uint16_t hk = f32_to_fp16(k[j]), hv = f32_to_fp16(v[j]);
            std::memcpy(kblock + size_t(j * kBlock) * 2, &hk, 2);
            std::memcpy(vrow + 2 * j, &hv, 2);
        }
    } else {
        for (int64_t j = 0; j < kv_dim_; ++j) std::memcpy(kblock + size_t(j * kBlock) * 4, &k[j], 4);
        std::memcpy(vrow, v, size_t(kv_dim_) * 4);
    }
}

}  // namespace tern
