// I2S matmul for AVX2: pmaddubsw + pmaddwd on 8-row tiles. Loop nest:
// i2s_kernel.inc; this file supplies the vector ops.
#include <immintrin.h>

#include "x86.h"

namespace tern::kernels::avx2 {

namespace {
struct V {
    using reg = __m256i;
    static constexpr int kRows = 8;
    static constexpr bool kVnni = false;
    static reg zero() { return _mm256_setzero_si256(); }
    static reg load(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
    static reg codes(reg v, int g) { return _mm256_and_si256(_mm256_srli_epi16(v, 2 * g), _mm256_set1_epi8(3)); }
    static reg bcast(const uint8_t* p) {
        int32_t v;
        __builtin_memcpy(&v, p, 4);
        return _mm256_set1_epi32(v);
    }
    static reg dot(reg acc, reg, reg) { return acc; }
    static reg maddubs(reg c, reg a) { return _mm256_maddubs_epi16(c, a); }
    static reg add16(reg a, reg b) { return _mm256_add_epi16(a, b); }
    static reg add32(reg a, reg b) { return _mm256_add_epi32(a, b); }
    static reg widen(reg acc, reg a16) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a16, _mm256_set1_epi16(1))); }
    static reg sub_sum(reg acc, int32_t s) { return _mm256_sub_epi32(acc, _mm256_set1_epi32(s)); }
    static void store(int32_t* y, reg v, int lo, int hi) {
        if (lo == 0 && hi == kRows) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), v);
            return;
        }
        const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx),
                                           _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)));
        _mm256_maskstore_epi32(y, m, v);
    }
};
}  // namespace

#ifndef TERN_I2S_RV
#define TERN_I2S_RV 1
#endif
#ifndef TERN_I2S_RV1
#define TERN_I2S_RV1 4
#endif
#ifndef TERN_I2S_MAX_T
#define TERN_I2S_MAX_T 4
#endif
#include "i2s_kernel.inc"

}  // namespace tern::kernels::avx2
