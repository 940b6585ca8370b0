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

// What a pmaddubsw kernel cannot do without: each product added into an int16
// sum (paddw), one operand loaded from L1 (a 1 KB ring). Nothing else: no
// decoding, no widening, no stores. Its rate over int8_peak_probe's is the
// ceiling of every kernel on a table without vpdpbusd; the add takes vector
// pipe slots the product needs (on Zen 3 this loop runs at ~78 % of the peak,
// with vpbroadcastd instead of the full load too).
int64_t int8_accumulate_probe(int64_t iters, int32_t seed) {
    constexpr int kChains = 8;  // sums; the products' temporaries and the operand take the rest
    alignas(64) uint8_t ring[1024];
    for (int i = 0; i < 1024; ++i) ring[i] = uint8_t(seed * 31 + i);
    __m256i acc[kChains];
#pragma GCC unroll 8
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_setzero_si256();
    __m256i s = _mm256_set1_epi32(seed | 1);
    for (int64_t it = 0; it < iters; ++it) {
        const uint8_t* p = ring + (it & 3) * 256;
#pragma GCC unroll 8
        for (int i = 0; i < kChains; ++i) {
            __m256i prod;
            // As asm: GCC would fold the sums' adds into fewer chains or spill them.
            __asm__("vpmaddubsw %[a], %[s], %[t]\n\tvpaddw %[t], %[acc], %[acc]"
                    : [acc] "+x"(acc[i]), [t] "=&x"(prod)
                    : [s] "x"(s), [a] "m"(*reinterpret_cast<const __m256i*>(p + 32 * i)));
        }
        __asm__ volatile("" : "+x"(s));  // keep the loop
    }
    __m256i r = acc[0];
#pragma GCC unroll 8
    for (int i = 1; i < kChains; ++i) r = _mm256_add_epi16(r, acc[i]);
    return _mm256_extract_epi32(r, 0);
}

int64_t int8_accumulate_probe_macs(int64_t iters) { return iters * 8 * 32; }

}  // namespace tern::kernels::avx2
