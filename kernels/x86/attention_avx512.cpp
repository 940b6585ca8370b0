// The attention products for the avx512 table: kernels/x86/attention_kernel.inc
// with 16-float vectors, four per tile row (a whole key block; 4 x 4
// accumulators).
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
struct V {
    using vec = __m512;
    static constexpr int kLanes = 16, kGroups = 4;
    static vec zero() { return _mm512_setzero_ps(); }
    static vec load(const float* p) { return _mm512_loadu_ps(p); }
    static vec set1(float x) { return _mm512_set1_ps(x); }
    static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
    static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
    static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
    static void store_first(float* p, vec v, int64_t count) {
        _mm512_mask_storeu_ps(p, __mmask16((1u << count) - 1), v);
    }
};
}  // namespace

#include "kernels/x86/attention_kernel.inc"

}  // namespace tern::kernels::avx512
