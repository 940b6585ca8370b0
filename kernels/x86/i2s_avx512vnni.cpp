// I2S matmul for AVX-512 VNNI: one vpdpbusd per 16 rows x 4 columns, codes
// (unsigned 0..2) times broadcast int8 activations. Loop nest: i2s_kernel.inc.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*
// placeholders (GCC PR 105593); nothing in this file is uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx512vnni {

namespace {
#include "kernels/x86/i2s_ops512.inc"
struct V : VOps512 {
    static constexpr bool kVnni = true;
    static reg dot(reg acc, reg c, reg a) { return _mm512_dpbusd_epi32(acc, c, a); }
    static reg maddubs(reg c, reg) { return c; }
    static reg add16(reg a, reg) { return a; }
    template <int M = 1>
    static reg widen(reg acc, reg) { return acc; }
};
}  // namespace

// Tiles per step for prefill, weight streams for decode, tokens per micro tile
// (measured per ISA; bench/README.md).
constexpr int kI2sRV = 2, kI2sRV1 = 4, kI2sMaxT = 8;
constexpr int kI2sRVTokens = kI2sMaxT;  // kI2sRV tiles per step at every token count
constexpr int kI2sStreamTokens = 4;
constexpr bool kI2sExpand = false;
#include "kernels/x86/i2s_kernel.inc"

}  // namespace tern::kernels::avx512vnni
