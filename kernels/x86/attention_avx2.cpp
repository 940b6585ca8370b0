// The attention products for the avx2 table: kernels/x86/attention_kernel.inc
// with 8-float vectors, two per tile row (16 ymm registers: 4 x 2
// accumulators, the 2 rows and a broadcast).
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx2 {

namespace {
struct V {
    using vec = __m256;
    static constexpr int kLanes = 8, kGroups = 2;
    static vec zero() { return _mm256_setzero_ps(); }
    static vec load(const float* p) { return _mm256_loadu_ps(p); }
    static vec set1(float x) { return _mm256_set1_ps(x); }
    static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
    static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
    static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
    static void store_first(float* p, vec v, int64_t count) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(count)), lane), v);
    }
};
}  // namespace

#include "kernels/x86/attention_kernel.inc"

}  // namespace tern::kernels::avx2
