// I2S matmul for AVX-512 VNNI: one vpdpbusd per 16 rows x 4 columns, codes
// (unsigned 0..2) times broadcast int8 activations. Loop nest: i2s_kernel.inc.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*
// placeholders (GCC PR 105593); nothing in this file is uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "x86.h"

namespace tern::kernels::avx512vnni {

namespace {
struct V {
    using reg = __m512i;
    static constexpr int kRows = 16;
    static constexpr bool kVnni = true;
    static reg zero() { return _mm512_setzero_si512(); }
    static reg load(const uint8_t* p) { return _mm512_load_si512(p); }
    static reg codes(reg v, int g) { return _mm512_and_si512(_mm512_srli_epi16(v, unsigned(2 * g)), _mm512_set1_epi8(3)); }
    static reg bcast(const uint8_t* p) {
        int32_t v;
        __builtin_memcpy(&v, p, 4);
        return _mm512_set1_epi32(v);
    }
    static reg dot(reg acc, reg c, reg a) { return _mm512_dpbusd_epi32(acc, c, a); }
    static reg maddubs(reg c, reg) { return c; }
    static reg add16(reg a, reg) { return a; }
    static reg add32(reg a, reg b) { return _mm512_add_epi32(a, b); }
    static reg widen(reg acc, reg) { return acc; }
    static reg sub_sum(reg acc, int32_t s) { return _mm512_sub_epi32(acc, _mm512_set1_epi32(s)); }
    static void store(int32_t* y, reg v, int lo, int hi) {
        const __mmask16 k = __mmask16(((1u << hi) - 1) & ~((1u << lo) - 1));
        _mm512_mask_storeu_epi32(y, k, v);
    }
};
}  // namespace

#ifndef TERN_I2S_RV
#define TERN_I2S_RV 2
#endif
#ifndef TERN_I2S_RV1
#define TERN_I2S_RV1 4
#endif
#ifndef TERN_I2S_MAX_T
#define TERN_I2S_MAX_T 8
#endif
#include "i2s_kernel.inc"

}  // namespace tern::kernels::avx512vnni
