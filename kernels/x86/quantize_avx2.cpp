// SPEC §3 activation quantization with AVX2, bit-exact with ref::quantize_rows:
// the absmax is exact in any order (max of non-negative values; MAXPS returns
// its second operand when the first is NaN, so a NaN never wins, like ref's
// std::max), gamma and s are the same scalar float ops, x * s is one MULPS (no
// FMA), and CVTPS2DQ rounds in the current MXCSR mode exactly as nearbyint does
// (round half to even by default). NaN products give 0; the int32 -> int8 packs
// saturate, which is the clamp to [-128, 127].
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx2 {

namespace {

inline __m256i quantize8(__m256 x, __m256 s) {
    const __m256 p = _mm256_mul_ps(x, s);
    const __m256i ord = _mm256_castps_si256(_mm256_cmp_ps(p, p, _CMP_ORD_Q));
    return _mm256_and_si256(_mm256_cvtps_epi32(p), ord);  // NaN -> 0
}

// 32 floats -> 32 int8 in order.
inline __m256i quantize32(const float* x, __m256 s) {
    const __m256i a = quantize8(_mm256_loadu_ps(x), s), b = quantize8(_mm256_loadu_ps(x + 8), s);
    const __m256i c = quantize8(_mm256_loadu_ps(x + 16), s), d = quantize8(_mm256_loadu_ps(x + 24), s);
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i abcd = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace

void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t x_stride, int8_t* q, int64_t q_stride,
                   float* scale) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t t = 0; t < n; ++t) {
        const float* xr = x + t * x_stride;
        int8_t* qr = q + t * q_stride;
        const int64_t full = cols / 8 * 8;
        __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 16 <= full; j += 16) {
            m0 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(xr + j), abs_mask), m0);
            m1 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(xr + j + 8), abs_mask), m1);
        }
        for (; j < full; j += 8) m0 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(xr + j), abs_mask), m0);
        m0 = _mm256_max_ps(m0, m1);
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
        float amax = _mm_cvtss_f32(m);
        for (; j < cols; ++j) {
            const float a = _mm_cvtss_f32(_mm_and_ps(_mm_set_ss(xr[j]), _mm256_castps256_ps128(abs_mask)));
            amax = amax < a ? a : amax;  // std::max(amax, a): a NaN never wins
        }
        const float gamma = amax < 1e-5f ? 1e-5f : amax;
        const float s = 127.0f / gamma;
        const __m256 vs = _mm256_set1_ps(s);

        j = 0;
        for (; j + 32 <= cols; j += 32) _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr + j), quantize32(xr + j, vs));
        if (j < cols) {
            alignas(32) float tmp[32] = {};
            alignas(32) int8_t out[32];
            for (int64_t k = j; k < cols; ++k) tmp[k - j] = xr[k];
            _mm256_store_si256(reinterpret_cast<__m256i*>(out), quantize32(tmp, vs));
            for (int64_t k = j; k < cols; ++k) qr[k] = out[k - j];
        }
        for (j = cols; j < q_stride; ++j) qr[j] = 0;
        scale[t] = s;
    }
}

}  // namespace tern::kernels::avx2
