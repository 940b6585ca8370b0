// I2S for armv8-a ASIMD: repacking, prepared activations (both shared with
// neon_dotprod) and the SMLAL matmul. Layout: neon.h.
//
// No-overflow argument for the int16 partial sums: codes c are 0..2 and
// activations -128..127, so one product has |c*a| <= 256. Each int16 lane
// takes at most 32 products (direct: 16, tile: 32) before it is folded into
// int32 with SADALP, so |partial| <= 32 * 256 = 8192 < 32767. The int32 sums
// are exact for any padded_cols < 2^22 (|sum| <= 256 * padded_cols).
#include <arm_neon.h>

#include <cassert>
#include <cstring>

#include "kernels/ref/ref.h"
#include "kernels/arm/i2s_kernel.inc"
#include "kernels/arm/neon.h"

namespace tern::kernels::neon {

namespace {

static_assert(kTernaryColAlign % 256 == 0, "the I2S loops step K in 256-column blocks");

struct Smlal {
    static constexpr int kTokTile = 2;
    static constexpr int64_t kMinPredecodeTokens = 4;

    template <int R>
    static void direct(const uint8_t* w, int64_t row_bytes, const int8_t* a, int64_t k, int32_t* out) {
        const uint8x16_t m3 = vdupq_n_u8(3);
        int32x4_t acc[R];
        for (int r = 0; r < R; ++r) acc[r] = vdupq_n_s32(0);
        for (int64_t k0 = 0; k0 < k; k0 += 256) {
            // Per lane 16 products of |c*a| <= 256 each (4 chunks x 4 slices): <= 4096.
            int16x8_t lo[R], hi[R];
            for (int r = 0; r < R; ++r) lo[r] = hi[r] = vdupq_n_s16(0);
            for (int64_t c = k0; c < k0 + 256; c += 64) {
                const int8x16_t a0 = vld1q_s8(a + c), a1 = vld1q_s8(a + c + 16);
                const int8x16_t a2 = vld1q_s8(a + c + 32), a3 = vld1q_s8(a + c + 48);
                for (int r = 0; r < R; ++r) {
                    const uint8x16_t b = vld1q_u8(w + r * row_bytes + c / 4);
                    const int8x16_t c0 = vreinterpretq_s8_u8(vandq_u8(b, m3));
                    const int8x16_t c1 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(b, 2), m3));
                    const int8x16_t c2 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(b, 4), m3));
                    const int8x16_t c3 = vreinterpretq_s8_u8(vshrq_n_u8(b, 6));
                    lo[r] = vmlal_s8(lo[r], vget_low_s8(c0), vget_low_s8(a0));
                    hi[r] = vmlal_high_s8(hi[r], c0, a0);
                    lo[r] = vmlal_s8(lo[r], vget_low_s8(c1), vget_low_s8(a1));
                    hi[r] = vmlal_high_s8(hi[r], c1, a1);
                    lo[r] = vmlal_s8(lo[r], vget_low_s8(c2), vget_low_s8(a2));
                    hi[r] = vmlal_high_s8(hi[r], c2, a2);
                    lo[r] = vmlal_s8(lo[r], vget_low_s8(c3), vget_low_s8(a3));
                    hi[r] = vmlal_high_s8(hi[r], c3, a3);
                }
            }
            for (int r = 0; r < R; ++r) acc[r] = vpadalq_s16(vpadalq_s16(acc[r], lo[r]), hi[r]);
        }
        for (int r = 0; r < R; ++r) out[r] = vaddvq_s32(acc[r]);
    }

    template <int R, int T>
    static void tile(const int8_t* w, int64_t w_stride, const int8_t* const* a, int64_t len, int32_t* out) {
        int32x4_t acc[R][T];
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_s32(0);
        for (int64_t k0 = 0; k0 < len; k0 += 256) {
            // Per lane 2 products per step x 16 steps, |c*a| <= 256 each: <= 8192.
            int16x8_t s[R][T];
            for (int r = 0; r < R; ++r)
                for (int t = 0; t < T; ++t) s[r][t] = vdupq_n_s16(0);
            for (int64_t k = k0; k < k0 + 256; k += 16) {
                int8x16_t av[T];
                for (int t = 0; t < T; ++t) av[t] = vld1q_s8(a[t] + k);
                for (int r = 0; r < R; ++r) {
                    const int8x16_t wv = vld1q_s8(w + r * w_stride + k);
                    for (int t = 0; t < T; ++t) {
                        s[r][t] = vmlal_s8(s[r][t], vget_low_s8(wv), vget_low_s8(av[t]));
                        s[r][t] = vmlal_high_s8(s[r][t], wv, av[t]);
                    }
                }
            }
            for (int r = 0; r < R; ++r)
                for (int t = 0; t < T; ++t) acc[r][t] = vpadalq_s16(acc[r][t], s[r][t]);
        }
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) out[r * 4 + t] = vaddvq_s32(acc[r][t]);
    }
};

}  // namespace

PackedTernary i2s_repack(const TernaryMatrix& m) {
    PackedTernary p = ref::packed_header(m);
    p.param[0] = kI2sChunk;
    const int64_t row_bytes = m.padded_cols / 4;
    p.data = AlignedBuffer(size_t(m.rows * row_bytes));
    const uint8x16_t m3 = vdupq_n_u8(3);
    alignas(16) uint8_t col[64];
    for (int64_t r = 0; r < m.rows; ++r) {
        const uint8_t* src = m.row(r);
        uint8_t* dst = p.data.data() + r * row_bytes;
        for (int64_t c = 0; c < row_bytes / 16; ++c) {
            // Canonical byte j holds columns 4j..4j+3 (2 bits each, low first):
            // split into four code planes, interleave them back to column order,
            // then pack columns i, 16+i, 32+i, 48+i into byte i.
            const uint8x16_t b = vld1q_u8(src + 16 * c);
            uint8x16x4_t planes;
            planes.val[0] = vandq_u8(b, m3);
            planes.val[1] = vandq_u8(vshrq_n_u8(b, 2), m3);
            planes.val[2] = vandq_u8(vshrq_n_u8(b, 4), m3);
            planes.val[3] = vshrq_n_u8(b, 6);
            vst4q_u8(col, planes);
            uint8x16_t packed = vld1q_u8(col);
            packed = vorrq_u8(packed, vshlq_n_u8(vld1q_u8(col + 16), 2));
            packed = vorrq_u8(packed, vshlq_n_u8(vld1q_u8(col + 32), 4));
            packed = vorrq_u8(packed, vshlq_n_u8(vld1q_u8(col + 48), 6));
            vst1q_u8(dst + 16 * c, packed);
        }
    }
    return p;
}

int64_t i2s_prepared_bytes(int64_t padded_cols) { return padded_cols + 64; }

void i2s_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    assert(q_stride >= padded_cols && padded_cols % 16 == 0);
    const int64_t pb = i2s_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) {
        const int8_t* src = q + t * q_stride;
        uint8_t* o = out + t * pb;
        int32x4_t sum = vdupq_n_s32(0);
        for (int64_t j = 0; j < padded_cols; j += 16) {
            const int8x16_t v = vld1q_s8(src + j);
            vst1q_s8(reinterpret_cast<int8_t*>(o + j), v);
            sum = vpadalq_s16(sum, vpaddlq_s8(v));
        }
        std::memset(o + padded_cols, 0, 64);
        const int32_t s = vaddvq_s32(sum);
        std::memcpy(o + padded_cols, &s, sizeof s);
    }
}

void i2s_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    assert(w.padded_cols % 256 == 0 && w.padded_cols < (int64_t(1) << 22));
    i2s_matmul_driver<Smlal>(w.data.data(), w.padded_cols, prepared, n, y, y_stride, row_begin, row_end);
}

}  // namespace tern::kernels::neon
