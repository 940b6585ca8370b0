// SPEC §3 activation quantization for armv8-a ASIMD, bit-exact with
// ref::quantize_rows (kernels/ref/quantize_ref.cpp):
// - amax: lane-wise "m < |x| ? |x| : m", exactly std::max(amax, fabs(x)), so
//   a NaN never wins; the max of the NaN-free lanes does not depend on order.
// - gamma and s: the same scalar float ops as ref.
// - q: x * s (one FMUL), then FCVTNS (round to nearest, ties to even, like
//   nearbyint in the default mode; saturating; NaN -> 0), then saturating
//   narrows to int8, which is clamp(v, -128, 127). ±inf -> ±127/-128 as ref.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/arm/neon.h"

namespace tern::kernels::neon {

namespace {

inline float32x4_t max_no_nan(float32x4_t m, float32x4_t v) { return vbslq_f32(vcltq_f32(m, v), v, m); }

inline int8x8_t quantize8(float32x4_t a, float32x4_t b, float s) {
    const int32x4_t ia = vcvtnq_s32_f32(vmulq_n_f32(a, s)), ib = vcvtnq_s32_f32(vmulq_n_f32(b, s));
    return vqmovn_s16(vcombine_s16(vqmovn_s32(ia), vqmovn_s32(ib)));
}

}  // namespace

void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,
                   float* scale) {
    for (int64_t t = 0; t < n; ++t) {
        const float* xr = x + t * x_stride;
        int8_t* qr = q + t * q_stride;
        float32x4_t m0 = vdupq_n_f32(0.0f), m1 = m0, m2 = m0, m3 = m0;
        int64_t j = 0;
        for (; j + 16 <= cols; j += 16) {
            m0 = max_no_nan(m0, vabsq_f32(vld1q_f32(xr + j)));
            m1 = max_no_nan(m1, vabsq_f32(vld1q_f32(xr + j + 4)));
            m2 = max_no_nan(m2, vabsq_f32(vld1q_f32(xr + j + 8)));
            m3 = max_no_nan(m3, vabsq_f32(vld1q_f32(xr + j + 12)));
        }
        float amax = vmaxvq_f32(max_no_nan(max_no_nan(m0, m1), max_no_nan(m2, m3)));  // NaN-free lanes
        for (; j < cols; ++j) amax = std::max(amax, std::fabs(xr[j]));
        const float gamma = std::max(amax, 1e-5f);
        const float s = 127.0f / gamma;
        j = 0;
        for (; j + 16 <= cols; j += 16) {
            const int8x8_t lo = quantize8(vld1q_f32(xr + j), vld1q_f32(xr + j + 4), s);
            const int8x8_t hi = quantize8(vld1q_f32(xr + j + 8), vld1q_f32(xr + j + 12), s);
            vst1q_s8(qr + j, vcombine_s8(lo, hi));
        }
        for (; j < cols; ++j) {
            const float v = std::nearbyint(xr[j] * s);
            qr[j] = std::isnan(v) ? int8_t(0) : int8_t(std::clamp(v, -128.0f, 127.0f));
        }
        if (q_stride > cols) std::memset(qr + cols, 0, size_t(q_stride - cols));
        scale[t] = s;
    }
}

}  // namespace tern::kernels::neon
