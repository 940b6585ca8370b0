// SPEC §3 activation quantization, the reference for every SIMD quantize_rows.
#include <algorithm>
#include <cmath>

#include "kernels/ref/ref.h"

namespace tern::kernels::ref {

void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,
                   float* scale) {
    for (int64_t t = 0; t < n; ++t) {
        const float* xr = x + t * x_stride;
        int8_t* qr = q + t * q_stride;
        float amax = 0.0f;
        for (int64_t j = 0; j < cols; ++j) amax = std::max(amax, std::fabs(xr[j]));  // a NaN never wins
        const float gamma = std::max(amax, 1e-5f);
        const float s = 127.0f / gamma;
        for (int64_t j = 0; j < cols; ++j) {
            // nearbyint rounds half to even in the default rounding mode, like
            // torch.round; roundf would round halves away from zero.
            const float v = std::nearbyint(xr[j] * s);
            qr[j] = std::isnan(v) ? int8_t(0) : int8_t(std::clamp(v, -128.0f, 127.0f));
        }
        // Kernels read up to padded_cols: the tail must be zero, not garbage.
        for (int64_t j = cols; j < q_stride; ++j) qr[j] = 0;
        scale[t] = s;
    }
}

}  // namespace tern::kernels::ref
