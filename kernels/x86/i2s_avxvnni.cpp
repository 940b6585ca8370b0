// I2S matmul for AVX-VNNI (VEX vpdpbusd, e.g. Alder Lake, which lacks AVX-512): on 8-row tiles. Loop nest:
// i2s_kernel.inc; this file supplies the vector ops.
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avxvnni {

namespace {
#include "kernels/x86/i2s_ops256.inc"
struct V : VOps256 {
    static constexpr bool kVnni = true;
    static reg dot(reg acc, reg c, reg a) { return _mm256_dpbusd_avx_epi32(acc, c, a); }
    static reg maddubs(reg c, reg) { return c; }
    static reg add16(reg a, reg) { return a; }
    template <int M = 1>
    static reg widen(reg acc, reg) { return acc; }
};
}  // namespace

// Tiles per step for prefill, weight streams for decode, tokens per micro tile
// (measured per ISA; bench/README.md).
constexpr int kI2sRV = 1, kI2sRV1 = 4, kI2sMaxT = 8;
constexpr int kI2sRVTokens = kI2sMaxT;  // kI2sRV tiles per step at every token count
constexpr int kI2sStreamTokens = 4;
constexpr bool kI2sExpand = false;
#include "kernels/x86/i2s_kernel.inc"

}  // namespace tern::kernels::avxvnni
