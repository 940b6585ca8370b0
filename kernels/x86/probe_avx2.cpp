// The int8 dot-product peak of this ISA, for bench/ to measure kernels
// against: pmaddubsw ymm (pair sums into int16) on 14 independent accumulators
// (enough to cover the latency of every x86 core we know), no memory traffic.
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx2 {

int64_t int8_peak_probe(int64_t iters, int32_t seed) {
    constexpr int kChains = 14;  // 16 ymm registers: 14 chains + the operands
    __m256i a[kChains];
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) a[i] = _mm256_set1_epi32(seed + i);
    const __m256i s = _mm256_set1_epi32(seed | 1);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
        for (int i = 0; i < kChains; ++i) a[i] = _mm256_maddubs_epi16(a[i], s);
        __asm__ volatile("" : "+x"(a[0]), "+x"(a[5]), "+x"(a[11]), "+x"(a[13]));  // keep the loop
    }
    __m256i r = a[0];
#pragma GCC unroll 24
    for (int i = 1; i < kChains; ++i) r = _mm256_add_epi32(r, a[i]);
    return _mm256_extract_epi32(r, 0);
}

int64_t int8_peak_probe_macs(int64_t iters) { return iters * 14 * 32; }

}  // namespace tern::kernels::avx2
