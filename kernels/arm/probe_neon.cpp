// The int8 multiply-add peak of the neon table, for bench/ and
// `tern bench --probes` to measure kernels against: SMLAL / SMLAL2 (8 int8
// products added into int16 lanes each), what i2s_neon.cpp's loops are made
// of, on 24 independent accumulators, no memory traffic.
#include <arm_neon.h>

#include "kernels/arm/neon.h"

namespace tern::kernels::neon {

namespace {
constexpr int kChains = 24;  // 32 vector registers: the chains and the two operands
}

int64_t int8_peak_probe(int64_t iters, int32_t seed) {
    int16x8_t acc[kChains];
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) acc[i] = vdupq_n_s16(0);
    int8x16_t x = vdupq_n_s8(int8_t(seed | 1)), y = vdupq_n_s8(3);
    for (int64_t it = 0; it < iters; ++it) {
        // As asm: the products all have the same operands, and a compiler may
        // compute such a product once and add it 24 times.
#pragma GCC unroll 24
        for (int i = 0; i < kChains; i += 2) {
            __asm__("smlal %0.8h, %1.8b, %2.8b" : "+w"(acc[i]) : "w"(x), "w"(y));
            __asm__("smlal2 %0.8h, %1.16b, %2.16b" : "+w"(acc[i + 1]) : "w"(x), "w"(y));
        }
        __asm__ volatile("" : "+w"(x), "+w"(y));  // keep the loop
    }
    int64_t sum = 0;
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) sum += vgetq_lane_s16(acc[i], 0);
    return sum;  // kChains * int16(iters * (seed | 1) * 3), for tests to check
}

int64_t int8_peak_probe_macs(int64_t iters) { return iters * kChains * 8; }

}  // namespace tern::kernels::neon
