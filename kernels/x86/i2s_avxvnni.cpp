// I2S matmul for AVX-VNNI (VEX vpdpbusd, e.g. Alder Lake, which lacks AVX-512): on 8-row tiles. Loop nest:
// i2s_kernel.inc; this file supplies the vector ops.
#include <immintrin.h>

#include "x86.h"

namespace tern::kernels::avxvnni {

namespace {
#include "i2s_ops256.inc"
struct V : VOps256 {
    static constexpr bool kVnni = true;
    static reg dot(reg acc, reg c, reg a) { return _mm256_dpbusd_avx_epi32(acc, c, a); }
    static reg maddubs(reg c, reg) { return c; }
    static reg add16(reg a, reg) { return a; }
    static reg widen(reg acc, reg) { return acc; }
};
}  // namespace

#ifndef TERN_I2S_RV
#define TERN_I2S_RV 1
#endif
#ifndef TERN_I2S_RV1
#define TERN_I2S_RV1 4
#endif
#ifndef TERN_I2S_MAX_T
#define TERN_I2S_MAX_T 8
#endif
#include "i2s_kernel.inc"

}  // namespace tern::kernels::avxvnni
