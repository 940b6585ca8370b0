// The int8 multiply-add peak of the neon_dotprod table (compiled with
// +dotprod, CMakeLists.txt): SDOT (16 int8 products into 4 int32 lanes), what
// i2s_dotprod.cpp's loops are made of, on 24 independent accumulators, no
// memory traffic. Called only where the CPU has dotprod (probes.cpp asks
// dispatch which tables run here).
#include <arm_neon.h>

#include "kernels/arm/neon.h"

namespace tern::kernels::neon_dotprod {

namespace {
constexpr int kChains = 24;
}

int64_t int8_peak_probe(int64_t iters, int32_t seed) {
    int32x4_t acc[kChains];
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) acc[i] = vdupq_n_s32(0);
    int8x16_t x = vdupq_n_s8(int8_t(seed | 1)), y = vdupq_n_s8(3);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
        for (int i = 0; i < kChains; ++i) __asm__("sdot %0.4s, %1.16b, %2.16b" : "+w"(acc[i]) : "w"(x), "w"(y));
        __asm__ volatile("" : "+w"(x), "+w"(y));  // keep the loop
    }
    int64_t sum = 0;
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) sum += vgetq_lane_s32(acc[i], 0);
    return sum;  // kChains * int32(iters * 4 * (seed | 1) * 3), for tests to check
}

int64_t int8_peak_probe_macs(int64_t iters) { return iters * kChains * 16; }

}  // namespace tern::kernels::neon_dotprod
