// I2S matmul with SDOT (armv8.2-a dotprod; compiled with
// -march=armv8.2-a+dotprod by CMakeLists.txt). Layout and prepared activations
// are neon's (neon.h); only the inner loops differ. Raw pointers only, no STL
// (see neon.h). The PackedTernary wrapper lives in tables_arm.cpp.
//
// Exactness: SDOT adds four int8 x int8 products into each int32 lane.
// direct<R> avoids shifting the codes down: (b & 0x0C) is 4c and (b & 0x30) is
// 16c, so those slices go into their own accumulators, which hold exactly 4x
// and 16x their sums and are shifted back at the end. The largest, the 16x one,
// is bounded by 16 * 256 * padded_cols / 4 = 1024 * padded_cols < 2^31 for
// padded_cols < 2^21 (tables_arm.cpp asserts < 2^20, far above any model's
// width).
#include <arm_neon.h>

#include "kernels/arm/i2s_kernel.inc"
#include "kernels/arm/neon.h"

#if !defined(__ARM_FEATURE_DOTPROD)
#error "i2s_dotprod.cpp must be compiled with -march=armv8.2-a+dotprod (see CMakeLists.txt)"
#endif

namespace tern::kernels::neon_dotprod {

namespace {

struct Sdot {
    static constexpr int kTokTile = 4;
    static constexpr int64_t kMinPredecodeTokens = 4;

    template <int R>
    static void direct(const uint8_t* w, int64_t row_bytes, const int8_t* a, int64_t k, int32_t* out) {
        const uint8x16_t m03 = vdupq_n_u8(0x03), m0c = vdupq_n_u8(0x0C), m30 = vdupq_n_u8(0x30);
        int32x4_t acc1[R], acc4[R], acc16[R];
        for (int r = 0; r < R; ++r) acc1[r] = acc4[r] = acc16[r] = vdupq_n_s32(0);
        for (int64_t c = 0; c < k; c += 64) {
            const int8x16_t a0 = vld1q_s8(a + c), a1 = vld1q_s8(a + c + 16);
            const int8x16_t a2 = vld1q_s8(a + c + 32), a3 = vld1q_s8(a + c + 48);
            for (int r = 0; r < R; ++r) {
                const uint8x16_t b = vld1q_u8(w + r * row_bytes + c / 4);
                acc1[r] = vdotq_s32(acc1[r], vreinterpretq_s8_u8(vandq_u8(b, m03)), a0);
                acc4[r] = vdotq_s32(acc4[r], vreinterpretq_s8_u8(vandq_u8(b, m0c)), a1);
                acc16[r] = vdotq_s32(acc16[r], vreinterpretq_s8_u8(vandq_u8(b, m30)), a2);
                acc1[r] = vdotq_s32(acc1[r], vreinterpretq_s8_u8(vshrq_n_u8(b, 6)), a3);
            }
        }
        for (int r = 0; r < R; ++r)
            out[r] = vaddvq_s32(acc1[r]) + (vaddvq_s32(acc4[r]) >> 2) + (vaddvq_s32(acc16[r]) >> 4);
    }

    template <int R, int T>
    static void tile(const int8_t* w, int64_t w_stride, const int8_t* const* a, int64_t len, int32_t* out) {
        int32x4_t acc[R][T];
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_s32(0);
        for (int64_t k = 0; k < len; k += 16) {
            int8x16_t av[T];
            for (int t = 0; t < T; ++t) av[t] = vld1q_s8(a[t] + k);
            for (int r = 0; r < R; ++r) {
                const int8x16_t wv = vld1q_s8(w + r * w_stride + k);
                for (int t = 0; t < T; ++t) acc[r][t] = vdotq_s32(acc[r][t], wv, av[t]);
            }
        }
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) out[r * 4 + t] = vaddvq_s32(acc[r][t]);
    }
};

}  // namespace

void i2s_matmul_raw(const uint8_t* codes, int64_t padded_cols, const uint8_t* prepared, int64_t n, int32_t* y,
                    int64_t y_stride, int64_t row_begin, int64_t row_end) {
    i2s_matmul_driver<Sdot>(codes, padded_cols, prepared, n, y, y_stride, row_begin, row_end);
}

}  // namespace tern::kernels::neon_dotprod
