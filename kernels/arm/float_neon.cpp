// Full-precision weights (F32, F16, BF16, Q8_0, Q6_K) for armv8-a ASIMD,
// bit-exact with kernels/ref/float_ref.cpp.
//
// dequantize_row: the same float values as ref. F16 uses FCVTL, which is exact
// for every finite value and infinity; only NaNs differ (FCVTL quiets a
// signalling NaN, ref keeps its payload), so a group of 8 holding any
// exponent-31 value goes through ref's scalar conversion. BF16 is a shift.
// Q8_0 is float(q) * d; Q6_K is (d * float(scale)) * float(q) as ref.
//
// float_matmul: ref's order (ref.h): 16 float partial sums per output,
// acc[j % 16] += w[j] * x[j] (FMUL then FADD, never FMA: the build must pass
// -ffp-contract=off, as GCC contracts a * b + c in C++ by default on arm64),
// then folded by halves (8, 4, 2, 1). Those 16 lanes are four q registers.
// 4 rows at a time are dequantized per block of 256 columns into an L1
// buffer, then each token runs over them: 16 independent add chains.
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "kernels/ref/ref.h"
#include "kernels/arm/neon.h"

namespace tern::kernels::neon {

namespace {

constexpr int kRows = 4;         // rows per block (16 independent accumulator chains)
constexpr int64_t kCols = 256;   // columns per dequantized block (a multiple of every block size)

// Elements per block and bytes per block, or 0 for a type this file does not handle.
int64_t block_elems(GgmlType t) {
    switch (t) {
        case GgmlType::F32:
        case GgmlType::F16:
        case GgmlType::BF16: return 1;
        case GgmlType::Q8_0: return 32;
        case GgmlType::Q6_K: return 256;
        default: return 0;
    }
}
int64_t block_bytes(GgmlType t) {
    switch (t) {
        case GgmlType::F32: return 4;
        case GgmlType::F16:
        case GgmlType::BF16: return 2;
        case GgmlType::Q8_0: return int64_t(sizeof(BlockQ8_0));
        case GgmlType::Q6_K: return int64_t(sizeof(BlockQ6_K));
        default: return 0;
    }
}

void dequantize_f16(const uint8_t* src, float* dst, int64_t cols) {
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8) {
        const uint16x8_t h = vreinterpretq_u16_u8(vld1q_u8(src + 2 * j));  // rows need not be 2-byte aligned
        if (vmaxvq_u16(vandq_u16(h, vdupq_n_u16(0x7c00))) == 0x7c00) {
            for (int64_t k = j; k < j + 8; ++k) {
                uint16_t v;
                std::memcpy(&v, src + 2 * k, 2);
                dst[k] = fp16_to_f32(v);
            }
            continue;
        }
        const float16x8_t f = vreinterpretq_f16_u16(h);
        vst1q_f32(dst + j, vcvt_f32_f16(vget_low_f16(f)));
        vst1q_f32(dst + j + 4, vcvt_high_f32_f16(f));
    }
    for (; j < cols; ++j) {
        uint16_t v;
        std::memcpy(&v, src + 2 * j, 2);
        dst[j] = fp16_to_f32(v);
    }
}

void dequantize_bf16(const uint8_t* src, float* dst, int64_t cols) {
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8) {
        const uint16x8_t h = vreinterpretq_u16_u8(vld1q_u8(src + 2 * j));
        vst1q_f32(dst + j, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
        vst1q_f32(dst + j + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
    }
    for (; j < cols; ++j) {
        uint16_t v;
        std::memcpy(&v, src + 2 * j, 2);
        dst[j] = bf16_to_f32(v);
    }
}

// 16 int8 values times a scale: float(q) * d, to dst[0..15].
inline void store_scaled(int8x16_t q, float d, float* dst) {
    const int16x8_t a = vmovl_s8(vget_low_s8(q)), b = vmovl_high_s8(q);
    vst1q_f32(dst, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(a))), d));
    vst1q_f32(dst + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(a)), d));
    vst1q_f32(dst + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(b))), d));
    vst1q_f32(dst + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(b)), d));
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t cols) {
    for (int64_t i = 0; i < cols / 32; ++i) {
        const uint8_t* b = src + i * int64_t(sizeof(BlockQ8_0));
        uint16_t dh;
        std::memcpy(&dh, b, 2);
        const float d = fp16_to_f32(dh);
        store_scaled(vld1q_s8(reinterpret_cast<const int8_t*>(b + 2)), d, dst + 32 * i);
        store_scaled(vld1q_s8(reinterpret_cast<const int8_t*>(b + 18)), d, dst + 32 * i + 16);
    }
}

// Layout as in float_ref.cpp's dequantize_q6_k.
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t cols) {
    static_assert(offsetof(BlockQ6_K, ql) == 0 && offsetof(BlockQ6_K, qh) == 128 && offsetof(BlockQ6_K, scales) == 192 &&
                  offsetof(BlockQ6_K, d) == 208);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
    const int8x16_t k32 = vdupq_n_s8(32);
    for (int64_t i = 0; i < cols / 256; ++i) {
        const uint8_t* b = src + i * int64_t(sizeof(BlockQ6_K));
        uint16_t dh;
        std::memcpy(&dh, b + 208, 2);
        const float d = fp16_to_f32(dh);
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = b + 64 * h;
            const uint8_t* qh = b + 128 + 32 * h;
            const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * h);
            float* yh = dst + 256 * i + 128 * h;
            for (int lb = 0; lb < 32; lb += 16) {
                const int is = lb / 16;
                const uint8x16_t la = vld1q_u8(ql + lb), lc = vld1q_u8(ql + lb + 32), hv = vld1q_u8(qh + lb);
                const uint8x16_t q1 = vorrq_u8(vandq_u8(la, m4), vshlq_n_u8(vandq_u8(hv, m3), 4));
                const uint8x16_t q2 = vorrq_u8(vandq_u8(lc, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hv, 2), m3), 4));
                const uint8x16_t q3 = vorrq_u8(vshrq_n_u8(la, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hv, 4), m3), 4));
                const uint8x16_t q4 = vorrq_u8(vshrq_n_u8(lc, 4), vshlq_n_u8(vshrq_n_u8(hv, 6), 4));
                store_scaled(vsubq_s8(vreinterpretq_s8_u8(q1), k32), d * float(sc[is + 0]), yh + lb);
                store_scaled(vsubq_s8(vreinterpretq_s8_u8(q2), k32), d * float(sc[is + 2]), yh + lb + 32);
                store_scaled(vsubq_s8(vreinterpretq_s8_u8(q3), k32), d * float(sc[is + 4]), yh + lb + 64);
                store_scaled(vsubq_s8(vreinterpretq_s8_u8(q4), k32), d * float(sc[is + 6]), yh + lb + 96);
            }
        }
    }
}

// R rows (kCols apart in w) times one token: acc[r][0..3] are ref's 16 lanes
// (acc[r][k] lane i = lane 4k + i), continued over len16 columns, a multiple
// of 16. Past the row's end w and x are zero-padded: adding the +0 product
// leaves every accumulator as it is (a lane is never -0: it starts at +0 and
// x + (-x) rounds to +0), so the padding does not change any bit.
template <int R>
inline void dot_block(const float* w, const float* x, int64_t len16, float32x4_t (&acc)[R][4]) {
    for (int64_t j = 0; j < len16; j += 16) {
        const float32x4_t x0 = vld1q_f32(x + j), x1 = vld1q_f32(x + j + 4);
        const float32x4_t x2 = vld1q_f32(x + j + 8), x3 = vld1q_f32(x + j + 12);
        for (int r = 0; r < R; ++r) {
            const float* wr = w + r * kCols + j;
            acc[r][0] = vaddq_f32(acc[r][0], vmulq_f32(vld1q_f32(wr), x0));
            acc[r][1] = vaddq_f32(acc[r][1], vmulq_f32(vld1q_f32(wr + 4), x1));
            acc[r][2] = vaddq_f32(acc[r][2], vmulq_f32(vld1q_f32(wr + 8), x2));
            acc[r][3] = vaddq_f32(acc[r][3], vmulq_f32(vld1q_f32(wr + 12), x3));
        }
    }
}

// ref's fold: lanes i + 8, then + 4, + 2, + 1, each time acc[i] = acc[i] + acc[i + h].
inline float fold_lanes(const float32x4_t (&a)[4]) {
    const float32x4_t h8lo = vaddq_f32(a[0], a[2]), h8hi = vaddq_f32(a[1], a[3]);  // lanes 0-3, 4-7
    const float32x4_t h4 = vaddq_f32(h8lo, h8hi);                                  // lanes 0-3
    const float32x2_t h2 = vadd_f32(vget_low_f32(h4), vget_high_f32(h4));          // lanes 0-1
    return vget_lane_f32(h2, 0) + vget_lane_f32(h2, 1);
}

}  // namespace

void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t cols) {
    switch (type) {
        case GgmlType::F16:
            dequantize_f16(src, dst, cols);
            return;
        case GgmlType::BF16:
            dequantize_bf16(src, dst, cols);
            return;
        case GgmlType::Q8_0:
            if (cols % 32 != 0) break;
            dequantize_q8_0(src, dst, cols);
            return;
        case GgmlType::Q6_K:
            if (cols % 256 != 0) break;
            dequantize_q6_k(src, dst, cols);
            return;
        default:
            break;
    }
    ref::dequantize_row(type, src, dst, cols);  // F32 (a copy), or the reference's error
}

void float_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n,
                  int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
    const int64_t be = block_elems(type);
    if (be == 0 || cols % be != 0) {
        ref::float_matmul(type, w, row_bytes, cols, x, n, x_stride, y, y_stride, row_begin, row_end);  // throws
        return;
    }
    if (n <= 0 || row_begin >= row_end) return;
    static_assert(ref::kFloatLanes == 16, "dot_block and fold_lanes keep ref's 16 lanes");
    const int64_t bb = block_bytes(type);
    // rows: kRows dequantized rows of one column block; acc: [row][token] 16 lanes each.
    std::vector<float> rows(size_t(kRows * kCols)), acc(size_t(kRows * n * 16));
    alignas(16) float xpad[16];
    for (int64_t r0 = row_begin; r0 < row_end; r0 += kRows) {
        const int nr = int(std::min<int64_t>(kRows, row_end - r0));
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j0 = 0; j0 < cols; j0 += kCols) {
            const int64_t len = std::min(kCols, cols - j0), full = len / 16 * 16;
            for (int r = 0; r < kRows; ++r) {
                float* rb = rows.data() + r * kCols;
                if (r < nr)
                    dequantize_row(type, w + (r0 + r) * row_bytes + j0 / be * bb, rb, len);
                else
                    std::fill(rb, rb + len, 0.0f);
                std::fill(rb + len, rb + round_up(len, 16), 0.0f);
            }
            for (int64_t t = 0; t < n; ++t) {
                const float* xt = x + t * x_stride + j0;
                float32x4_t a[kRows][4];
                for (int r = 0; r < kRows; ++r)
                    for (int k = 0; k < 4; ++k) a[r][k] = vld1q_f32(&acc[size_t((r * n + t) * 16 + 4 * k)]);
                dot_block<kRows>(rows.data(), xt, full, a);
                if (full < len) {
                    std::fill(xpad, xpad + 16, 0.0f);
                    std::copy(xt + full, xt + len, xpad);
                    dot_block<kRows>(rows.data() + full, xpad, 16, a);
                }
                for (int r = 0; r < kRows; ++r)
                    for (int k = 0; k < 4; ++k) vst1q_f32(&acc[size_t((r * n + t) * 16 + 4 * k)], a[r][k]);
            }
        }
        for (int r = 0; r < nr; ++r)
            for (int64_t t = 0; t < n; ++t) {
                float32x4_t a[4];
                for (int k = 0; k < 4; ++k) a[k] = vld1q_f32(&acc[size_t((r * n + t) * 16 + 4 * k)]);
                y[t * y_stride + r0 + r] = fold_lanes(a);
            }
    }
}

}  // namespace tern::kernels::neon
