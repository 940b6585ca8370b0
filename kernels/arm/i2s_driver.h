// The I2S matmul loop structure shared by i2s_neon.cpp (SMLAL) and
// i2s_dotprod.cpp (SDOT); each includes it and supplies its inner loops as a
// policy class. Everything here has internal linkage (anonymous namespace), so
// each file gets its own copy compiled with its own flags, and no STL is used.
//
// Layout and prepared activations: neon.h. Two paths:
// - few tokens (decode): for each tile of 4 rows and each token, one pass over
//   K that unpacks the 2-bit codes in registers (K::direct<R>);
// - many tokens (prefill): for each tile of 4 rows and each block of K, unpack
//   the codes once into a 16 KB int8 buffer and run every token tile over it
//   (K::tile<R, T>): the unpacking is paid once per tile, not once per token.
// Every output gets  sum q*c  over K from the policy, minus the token's sum q
// (codes c = w + 1 are unsigned).
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace tern::kernels {
namespace {

inline constexpr int kI2sRowTile = 4;
inline constexpr int64_t kI2sBlock = 4096;  // columns per unpacked block; a multiple of 256
static_assert(kI2sBlock % 256 == 0);

// `chunks` 64-column chunks of one row in the neon layout, to int8 codes in
// column order (exactly the bytes the activations line up with).
inline void i2s_unpack(const uint8_t* src, int64_t chunks, int8_t* dst) {
    const uint8x16_t m3 = vdupq_n_u8(3);
    for (int64_t c = 0; c < chunks; ++c) {
        const uint8x16_t b = vld1q_u8(src + 16 * c);
        uint8_t* d = reinterpret_cast<uint8_t*>(dst) + 64 * c;
        vst1q_u8(d, vandq_u8(b, m3));
        vst1q_u8(d + 16, vandq_u8(vshrq_n_u8(b, 2), m3));
        vst1q_u8(d + 32, vandq_u8(vshrq_n_u8(b, 4), m3));
        vst1q_u8(d + 48, vshrq_n_u8(b, 6));
    }
}

inline int32_t i2s_token_sum(const uint8_t* token, int64_t padded_cols) {
    int32_t s;
    std::memcpy(&s, token + padded_cols, sizeof s);
    return s;
}

// out[r * 4 + t] = K::tile<R, T> for the run-time R <= 4, T <= K::kTokTile.
template <class K, int R, int T = K::kTokTile>
void i2s_tile_t(int t, const int8_t* w, int64_t w_stride, const int8_t* const* a, int64_t len, int32_t* out) {
    if (t == T)
        K::template tile<R, T>(w, w_stride, a, len, out);
    else if constexpr (T > 1)
        i2s_tile_t<K, R, T - 1>(t, w, w_stride, a, len, out);
}
template <class K, int R = kI2sRowTile>
void i2s_tile_rt(int r, int t, const int8_t* w, int64_t w_stride, const int8_t* const* a, int64_t len, int32_t* out) {
    if (r == R)
        i2s_tile_t<K, R>(t, w, w_stride, a, len, out);
    else if constexpr (R > 1)
        i2s_tile_rt<K, R - 1>(r, t, w, w_stride, a, len, out);
}
template <class K, int R = kI2sRowTile>
void i2s_direct_r(int r, const uint8_t* w, int64_t row_bytes, const int8_t* a, int64_t k, int32_t* out) {
    if (r == R)
        K::template direct<R>(w, row_bytes, a, k, out);
    else if constexpr (R > 1)
        i2s_direct_r<K, R - 1>(r, w, row_bytes, a, k, out);
}

// K provides:
//   kTokTile (<= 4), kMinPredecodeTokens;
//   direct<R>(w, row_bytes, a, k, out[R]): out[r] = sum_j a[j] * c(row r, j), j < k,
//     straight from the packed rows;
//   tile<R, T>(w, w_stride, a[T], len, out[R*4]): out[r*4+t] = sum_j a[t][j] * w[r*w_stride + j],
//     j < len (a multiple of 256), from unpacked codes.
template <class K>
void i2s_matmul_driver(const uint8_t* codes, int64_t padded_cols, const uint8_t* prepared, int64_t n, int32_t* y,
                       int64_t y_stride, int64_t row_begin, int64_t row_end) {
    const int64_t row_bytes = padded_cols / 4, pb = padded_cols + 64;
    if (padded_cols == 0) {  // no columns: every sum is 0 (the block loop below would write nothing)
        for (int64_t t = 0; t < n; ++t)
            for (int64_t r = row_begin; r < row_end; ++r) y[t * y_stride + r] = 0;
        return;
    }
    if (n < K::kMinPredecodeTokens) {
        for (int64_t r0 = row_begin; r0 < row_end; r0 += kI2sRowTile) {
            const int R = row_end - r0 < kI2sRowTile ? int(row_end - r0) : kI2sRowTile;
            for (int64_t t = 0; t < n; ++t) {
                const uint8_t* tok = prepared + t * pb;
                int32_t out[kI2sRowTile] = {};
                i2s_direct_r<K>(R, codes + r0 * row_bytes, row_bytes, reinterpret_cast<const int8_t*>(tok),
                                padded_cols, out);
                const int32_t s = i2s_token_sum(tok, padded_cols);
                for (int r = 0; r < R; ++r) y[t * y_stride + r0 + r] = out[r] - s;
            }
        }
        return;
    }
    alignas(64) int8_t buf[kI2sRowTile * kI2sBlock];
    for (int64_t r0 = row_begin; r0 < row_end; r0 += kI2sRowTile) {
        const int R = row_end - r0 < kI2sRowTile ? int(row_end - r0) : kI2sRowTile;
        for (int64_t k0 = 0; k0 < padded_cols; k0 += kI2sBlock) {
            const int64_t len = padded_cols - k0 < kI2sBlock ? padded_cols - k0 : kI2sBlock;
            for (int r = 0; r < R; ++r)
                i2s_unpack(codes + (r0 + r) * row_bytes + k0 / 4, len / 64, buf + r * kI2sBlock);
            for (int64_t t0 = 0; t0 < n; t0 += K::kTokTile) {
                const int T = n - t0 < K::kTokTile ? int(n - t0) : K::kTokTile;
                const int8_t* a[4] = {};
                for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const int8_t*>(prepared + (t0 + t) * pb) + k0;
                int32_t out[kI2sRowTile * 4] = {};
                i2s_tile_rt<K>(R, T, buf, kI2sBlock, a, len, out);
                for (int t = 0; t < T; ++t) {
                    int32_t* yt = y + (t0 + t) * y_stride + r0;
                    const int32_t base = k0 == 0 ? -i2s_token_sum(prepared + (t0 + t) * pb, padded_cols) : 0;
                    for (int r = 0; r < R; ++r) yt[r] = (k0 == 0 ? base : yt[r]) + out[r * 4 + t];
                }
            }
        }
    }
}

}  // namespace
}  // namespace tern::kernels
