// The int8 dot-product peak of this ISA, for bench/ to measure kernels
// against: vpdpbusd zmm on 24 independent accumulators
// (enough to cover the latency of every x86 core we know), no memory traffic.
// GCC 12 PR 105593 (see i2s_avx512.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx512vnni {

int64_t int8_peak_probe(int64_t iters, int32_t seed) {
    constexpr int kChains = 24;
    __m512i a[kChains];
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) a[i] = _mm512_set1_epi32(seed + i);
    const __m512i u = _mm512_set1_epi32(0x01020102), s = _mm512_set1_epi32(seed | 1);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
        for (int i = 0; i < kChains; ++i) a[i] = _mm512_dpbusd_epi32(a[i], u, s);
        __asm__ volatile(""  // keep the loop
                         : TERN_VEC_IN_REG(a[0]), TERN_VEC_IN_REG(a[5]), TERN_VEC_IN_REG(a[11]), TERN_VEC_IN_REG(a[17]));
    }
    __m512i r = a[0];
#pragma GCC unroll 24
    for (int i = 1; i < kChains; ++i) r = _mm512_add_epi32(r, a[i]);
    return _mm512_reduce_add_epi32(r);
}

int64_t int8_peak_probe_macs(int64_t iters) { return iters * 24 * 64; }

}  // namespace tern::kernels::avx512vnni
