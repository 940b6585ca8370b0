// SPEC §3 activation quantization with AVX-512, bit-exact with
// ref::quantize_rows for the reasons given in quantize_avx2.cpp; tails use
// masked loads and stores (masked-off lanes load 0, which cannot change the
// absmax of non-negative values).
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*
// placeholders (GCC PR 105593); nothing in this file is uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx512 {

namespace {

inline void quantize16(const float* x, int8_t* q, __m512 s, __mmask16 k) {
    const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x), s);
    const __mmask16 ord = _mm512_cmp_ps_mask(p, p, _CMP_ORD_Q);
    const __m512i i = _mm512_maskz_mov_epi32(ord, _mm512_cvtps_epi32(p));  // NaN -> 0
    _mm512_mask_cvtsepi32_storeu_epi8(q, k, i);                            // saturating = clamp
}

}  // namespace

void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,
                   float* scale) {
    for (int64_t t = 0; t < n; ++t) {
        const float* xr = x + t * x_stride;
        int8_t* qr = q + t * q_stride;
        __m512 m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
        int64_t j = 0;
        for (; j + 32 <= cols; j += 32) {
            m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(xr + j)), m0);
            m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(xr + j + 16)), m1);
        }
        for (; j < cols; j += 16) {
            const __mmask16 k = cols - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (cols - j)) - 1);
            m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(k, xr + j)), m0);
        }
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
        const float gamma = amax < 1e-5f ? 1e-5f : amax;
        const float s = 127.0f / gamma;
        const __m512 vs = _mm512_set1_ps(s);
        for (j = 0; j + 16 <= cols; j += 16) quantize16(xr + j, qr + j, vs, 0xffff);
        if (j < cols) quantize16(xr + j, qr + j, vs, __mmask16((1u << (cols - j)) - 1));
        for (j = cols; j < q_stride; ++j) qr[j] = 0;
        scale[t] = s;
    }
}

}  // namespace tern::kernels::avx512
