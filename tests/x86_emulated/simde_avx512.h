// Force-included (-include) into the AVX-512 and AVX-VNNI kernel files by
// tests/x86_emulated: the real <immintrin.h> up to AVX2, then SIMDe's portable
// AVX-512 / VNNI (Debian's libsimde-dev) under the native names, so those
// tables' own source runs on a host without the instructions and the
// conformance cases check it bit for bit against ref. For tests only. Below:
// what SIMDe 0.7.4 lacks or misnames, as plain loops (masked loads and stores
// touch only the selected elements, as the hardware does).
#pragma once
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cstdint>
#include <cstring>

namespace tern_emulated {

template <class T, class V>
inline void to_lanes(T (&out)[sizeof(V) / sizeof(T)], V v) { std::memcpy(out, &v, sizeof(V)); }
template <class V, class T>
inline V from_lanes(const T (&in)[sizeof(V) / sizeof(T)]) {
    V v;
    std::memcpy(&v, in, sizeof(V));
    return v;
}

// Each lane of v, a From, converted to a To: the widening and int-to-float forms.
template <class From, class To, class R, class V>
inline R each_lane(V v) {
    constexpr int n = sizeof(V) / sizeof(From);
    static_assert(sizeof(R) == n * sizeof(To));
    From a[n];
    std::memcpy(a, &v, sizeof a);
    To r[n];
    for (int i = 0; i < n; ++i) r[i] = To(a[i]);
    R out;
    std::memcpy(&out, r, sizeof r);
    return out;
}

inline simde__m512 cvtph_ps(__m256i h) {
    return simde_mm512_insertf32x8(simde_mm512_castps256_ps512(_mm256_cvtph_ps(_mm256_castsi256_si128(h))),
                                   _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), 1);
}
// Round to nearest even under the default MXCSR, 0x80000000 when out of range.
inline simde__m512i cvtps_epi32(simde__m512 v) {
    const __m256i lo = _mm256_cvtps_epi32(simde_mm512_castps512_ps256(v));
    const __m256i hi = _mm256_cvtps_epi32(_mm256_castpd_ps(simde_mm512_extractf64x4_pd(simde_mm512_castps_pd(v), 1)));
    return simde_mm512_inserti64x4(simde_mm512_castsi256_si512(lo), hi, 1);
}
inline int32_t reduce_add_epi32(simde__m512i v) {
    uint32_t a[16];
    to_lanes(a, v);
    uint32_t s = 0;
    for (uint32_t x : a) s += x;  // wraps, as the hardware's adds do
    return int32_t(s);
}
inline void mask_storeu_epi32(void* p, uint16_t k, simde__m512i v) {
    int32_t a[16];
    to_lanes(a, v);
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) std::memcpy(static_cast<char*>(p) + 4 * i, &a[i], 4);
}
inline void mask_cvtsepi32_storeu_epi8(void* p, uint16_t k, simde__m512i v) {
    int32_t a[16];
    to_lanes(a, v);
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) static_cast<int8_t*>(p)[i] = int8_t(a[i] < -128 ? -128 : a[i] > 127 ? 127 : a[i]);
}
inline void mask_storeu_ps(void* p, uint16_t k, simde__m512 v) {
    float a[16];
    to_lanes(a, v);
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) std::memcpy(static_cast<char*>(p) + 4 * i, &a[i], 4);
}
inline simde__m512 maskz_loadu_ps(uint16_t k, const void* p) {
    float a[16] = {};
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) std::memcpy(&a[i], static_cast<const char*>(p) + 4 * i, 4);
    return from_lanes<simde__m512>(a);
}
inline __m256i maskz_loadu_epi16(uint16_t k, const void* p) {
    int16_t a[16] = {};
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) std::memcpy(&a[i], static_cast<const char*>(p) + 2 * i, 2);
    return from_lanes<__m256i>(a);
}

// src where bit i of k is clear, a - b (wrapping) where it is set.
inline simde__m512i mask_sub_epi16(simde__m512i src, uint32_t k, simde__m512i a, simde__m512i b) {
    int16_t r[32], x[32], y[32];
    to_lanes(r, src);
    to_lanes(x, a);
    to_lanes(y, b);
    for (int i = 0; i < 32; ++i)
        if (k >> i & 1) r[i] = int16_t(uint16_t(x[i]) - uint16_t(y[i]));
    return from_lanes<simde__m512i>(r);
}
inline simde__m512i srai_epi32(simde__m512i v, unsigned n) {
    int32_t a[16];
    to_lanes(a, v);
    for (int32_t& x : a) x = n > 31 ? (x < 0 ? -1 : 0) : x >> n;  // arithmetic, as the hardware's
    return from_lanes<simde__m512i>(a);
}
inline float reduce_max_ps(simde__m512 v) {
    float a[16];
    to_lanes(a, v);
    float m = a[0];
    for (int i = 1; i < 16; ++i) m = m > a[i] ? m : a[i];
    return m;
}

}  // namespace tern_emulated

#undef _mm512_madd_epi16  // SIMDe 0.7.4 aliases it with the masked form's four arguments
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)
#define _mm512_cvtph_ps(h) tern_emulated::cvtph_ps(h)
#define _mm512_cvtepi32_ps(v) tern_emulated::each_lane<int32_t, float, simde__m512>(v)
#define _mm512_cvtps_epi32(v) tern_emulated::cvtps_epi32(v)
#define _mm512_reduce_add_epi32(v) tern_emulated::reduce_add_epi32(v)
#define _mm512_mask_storeu_epi32(p, k, v) tern_emulated::mask_storeu_epi32(p, k, v)
#define _mm512_mask_cvtsepi32_storeu_epi8(p, k, v) tern_emulated::mask_cvtsepi32_storeu_epi8(p, k, v)
#define _mm512_mask_storeu_ps(p, k, v) tern_emulated::mask_storeu_ps(p, k, v)
#define _mm512_maskz_loadu_ps(k, p) tern_emulated::maskz_loadu_ps(k, p)
#define _mm256_maskz_loadu_epi16(k, p) tern_emulated::maskz_loadu_epi16(k, p)
#define _cvtu32_mask32(k) uint32_t(k)
#define _mm512_cvtepi16_epi32(v) tern_emulated::each_lane<int16_t, int32_t, simde__m512i>(v)
#define _mm512_cvtepu16_epi32(v) tern_emulated::each_lane<uint16_t, int32_t, simde__m512i>(v)
#define _mm512_cvtepu8_epi16(v) tern_emulated::each_lane<uint8_t, int16_t, simde__m512i>(v)
#define _mm512_cvtepi8_epi32(v) tern_emulated::each_lane<int8_t, int32_t, simde__m512i>(v)
#define _mm512_cvtepu8_epi32(v) tern_emulated::each_lane<uint8_t, int32_t, simde__m512i>(v)
#define _mm512_mask_sub_epi16(s, k, a, b) tern_emulated::mask_sub_epi16(s, k, a, b)
#define _mm512_srai_epi32(v, n) tern_emulated::srai_epi32(v, n)
#define _mm512_reduce_max_ps(v) tern_emulated::reduce_max_ps(v)
#define _mm256_dpbusd_avx_epi32(s, a, b) simde_mm256_dpbusd_epi32(s, a, b)
#define _mm256_dpwssd_avx_epi32(s, a, b) simde_mm256_dpwssd_epi32(s, a, b)

// Compiler barriers tie vectors to registers ("+v", kernels/x86/x86.h); these
// emulated types live in memory.
#define TERN_SIMDE_AVX512 1
