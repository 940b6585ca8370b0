// Quantized output matrices (Q8_0, Q4_K, Q5_K, Q6_K) x int16 activations for armv8-a
// ASIMD (both arm64 tables: SDOT has no 16-bit form), bit-exact with
// kernels/ref/qdot_ref.cpp (order in ref.h). Each row is decoded once into
// int16 weights (Q6_K, Q4_K, Q5_K with the sub-block scale folded in) and every token
// runs over it, so the matrix is read once per call. ref.h's 16 lanes are
// four q registers: SMULL / SMULL2 per 8 elements, and one ADDP per block
// pairs neighbouring elements into lane (e mod 32) / 2; the float step and the
// fold are FMUL then FADD (no FMA: the build passes -ffp-contract=off).
#include <arm_neon.h>

#include <cstring>
#include <vector>

#include "kernels/ref/ref.h"
#include "kernels/arm/neon.h"

namespace tern::kernels::neon {

namespace {

void decode_q8_0(const uint8_t* b, int16_t* w, float* d) {
    uint16_t h;
    std::memcpy(&h, b, 2);
    *d = fp16_to_f32(h);
    for (int i = 0; i < 2; ++i) {
        const int8x16_t q = vld1q_s8(reinterpret_cast<const int8_t*>(b + 2 + 16 * i));
        vst1q_s16(w + 16 * i, vmovl_s8(vget_low_s8(q)));
        vst1q_s16(w + 16 * i + 8, vmovl_high_s8(q));
    }
}

// Element 128h + 32k + l (SPEC §5), as scales[8h + 2k + l/16] * (q - 32).
void decode_q6_k(const uint8_t* b, int16_t* w, float* d) {
    uint16_t dh;
    std::memcpy(&dh, b + 208, 2);
    *d = fp16_to_f32(dh);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m30 = vdupq_n_u8(0x30);
    for (int h = 0; h < 2; ++h)
        for (int lb = 0; lb < 32; lb += 16) {
            const uint8x16_t la = vld1q_u8(b + 64 * h + lb), lc = vld1q_u8(b + 64 * h + 32 + lb);
            const uint8x16_t hv = vld1q_u8(b + 128 + 32 * h + lb);
            const uint8x16_t q[4] = {vorrq_u8(vandq_u8(la, m4), vandq_u8(vshlq_n_u8(hv, 4), m30)),
                                     vorrq_u8(vandq_u8(lc, m4), vandq_u8(vshlq_n_u8(hv, 2), m30)),
                                     vorrq_u8(vshrq_n_u8(la, 4), vandq_u8(hv, m30)),
                                     vorrq_u8(vshrq_n_u8(lc, 4), vandq_u8(vshrq_n_u8(hv, 2), m30))};
            for (int k = 0; k < 4; ++k) {
                const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(q[k]), vdupq_n_s8(32));
                const int16_t sc = int8_t(b[192 + 8 * h + 2 * k + lb / 16]);
                int16_t* o = w + 128 * h + 32 * k + lb;
                vst1q_s16(o, vmulq_n_s16(vmovl_s8(vget_low_s8(v)), sc));
                vst1q_s16(o + 8, vmulq_n_s16(vmovl_high_s8(v), sc));
            }
        }
}

// Q4_K (Q5 false) / Q5_K, layout in formats.h: element 32j + l as sc_j * q
// (q the low or high nibble of qs[32(j / 2) + l], plus bit j of qh[l] as the
// fifth bit in Q5_K); d, dmin and the 8 mins m_j for ref.h's msum.
template <bool Q5>
void decode_k(const uint8_t* b, int16_t* w, float* d, float* dmin, int32_t* mins) {
    uint16_t h;
    std::memcpy(&h, b, 2);
    *d = fp16_to_f32(h);
    std::memcpy(&h, b + 2, 2);
    *dmin = fp16_to_f32(h);
    const uint8_t* qs = b + (Q5 ? 48 : 16);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), one = vdupq_n_u8(1);
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        k_scale_min(b + 4, j, sc, m);
        mins[j] = m;
        for (int lb = 0; lb < 32; lb += 16) {
            const uint8x16_t v = vld1q_u8(qs + 32 * (j / 2) + lb);
            uint8x16_t q = j % 2 ? vshrq_n_u8(v, 4) : vandq_u8(v, m4);
            if constexpr (Q5) {
                const int8x16_t shift = vdupq_n_s8(int8_t(-j));  // a right shift by j
                q = vorrq_u8(q, vshlq_n_u8(vandq_u8(vshlq_u8(vld1q_u8(b + 16 + lb), shift), one), 4));
            }
            const uint16_t scu = uint16_t(sc);
            int16_t* o = w + 32 * j + lb;
            vst1q_s16(o, vreinterpretq_s16_u16(vmulq_n_u16(vmovl_u8(vget_low_u8(q)), scu)));
            vst1q_s16(o + 8, vreinterpretq_s16_u16(vmulq_n_u16(vmovl_high_u8(q), scu)));
        }
    }
}

// One output: the decoded row w (blocks of `be` elements, scales d) against a.
float dot_row(const int16_t* w, const float* d, int64_t blocks, int be, const int16_t* a) {
    float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    for (int64_t b = 0; b < blocks; ++b) {
        int32x4_t lo[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        int32x4_t hi[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        const int16_t* wb = w + b * be;
        const int16_t* ab = a + b * be;
        for (int c = 0; c < be; c += 32)
            for (int j = 0; j < 4; ++j) {
                const int16x8_t wv = vld1q_s16(wb + c + 8 * j), av = vld1q_s16(ab + c + 8 * j);
                lo[j] = vmlal_s16(lo[j], vget_low_s16(wv), vget_low_s16(av));
                hi[j] = vmlal_high_s16(hi[j], wv, av);
            }
        for (int j = 0; j < 4; ++j)
            acc[j] = vaddq_f32(acc[j], vmulq_n_f32(vcvtq_f32_s32(vpaddq_s32(lo[j], hi[j])), d[b]));
    }
    const float32x4_t h8a = vaddq_f32(acc[0], acc[2]), h8b = vaddq_f32(acc[1], acc[3]);
    const float32x4_t h4 = vaddq_f32(h8a, h8b);
    const float32x2_t h2 = vadd_f32(vget_low_f32(h4), vget_high_f32(h4));
    return vget_lane_f32(h2, 0) + vget_lane_f32(h2, 1);
}

// Q4_K / Q5_K rows: decoded once per row as above; per token the lanes as
// dot_row, then ref.h's macc (per block in order) subtracted before / s.
void k_matmul(bool q5, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared, int64_t n, float* y,
              int64_t y_stride, int64_t row_begin, int64_t row_end) {
    const int64_t blocks = cols / 256, bb = q5 ? int64_t(sizeof(BlockQ5_K)) : int64_t(sizeof(BlockQ4_K));
    const int64_t stride = qdot_prepared_bytes(cols);
    std::vector<int16_t> wr(static_cast<size_t>(cols));
    std::vector<float> d(static_cast<size_t>(blocks)), dmin(static_cast<size_t>(blocks));
    std::vector<int32_t> mins(static_cast<size_t>(blocks * 8));
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* row = w + r * row_bytes;
        for (int64_t b = 0; b < blocks; ++b)
            (q5 ? decode_k<true> : decode_k<false>)(row + b * bb, wr.data() + b * 256, d.data() + b, dmin.data() + b,
                                                    mins.data() + 8 * b);
        for (int64_t t = 0; t < n; ++t) {
            const uint8_t* p = prepared + t * stride;
            float s;
            std::memcpy(&s, p, sizeof s);
            const int32_t* sums = reinterpret_cast<const int32_t*>(p + qdot_sums_offset(cols));
            float macc = 0.0f;
            for (int64_t b = 0; b < blocks; ++b) {
                const int32x4_t m0 = vld1q_s32(mins.data() + 8 * b), m1 = vld1q_s32(mins.data() + 8 * b + 4);
                const int32x4_t prod = vaddq_s32(vmulq_s32(m0, vld1q_s32(sums + 8 * b)), vmulq_s32(m1, vld1q_s32(sums + 8 * b + 4)));
                macc = macc + float(vaddvq_s32(prod)) * dmin[size_t(b)];  // exact int32 msum, then ref's float step
            }
            y[t * y_stride + r] =
                (dot_row(wr.data(), d.data(), blocks, 256, reinterpret_cast<const int16_t*>(p + kQdotHeader)) - macc) / s;
        }
    }
}

}  // namespace

void qdot_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared, int64_t n,
                 float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
    if (!qdot_supports(type, cols))
        return ref::qdot_matmul(type, w, row_bytes, cols, prepared, n, y, y_stride, row_begin, row_end);  // throws
    if (type == GgmlType::Q4_K || type == GgmlType::Q5_K)
        return k_matmul(type == GgmlType::Q5_K, w, row_bytes, cols, prepared, n, y, y_stride, row_begin, row_end);
    const bool q8 = type == GgmlType::Q8_0;
    const int be = q8 ? 32 : 256;
    const int64_t bb = q8 ? int64_t(sizeof(BlockQ8_0)) : int64_t(sizeof(BlockQ6_K));
    const int64_t blocks = cols / be, stride = qdot_prepared_bytes(cols);
    std::vector<int16_t> wr(static_cast<size_t>(cols));
    std::vector<float> d(static_cast<size_t>(blocks));
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* row = w + r * row_bytes;
        for (int64_t b = 0; b < blocks; ++b)
            (q8 ? decode_q8_0 : decode_q6_k)(row + b * bb, wr.data() + b * be, d.data() + b);
        for (int64_t t = 0; t < n; ++t) {
            const uint8_t* p = prepared + t * stride;
            float s;
            std::memcpy(&s, p, sizeof s);
            y[t * y_stride + r] =
                dot_row(wr.data(), d.data(), blocks, be, reinterpret_cast<const int16_t*>(p + kQdotHeader)) / s;
        }
    }
}

}  // namespace tern::kernels::neon
