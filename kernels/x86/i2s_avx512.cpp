// I2S matmul for AVX-512 F+BW+VL without VNNI: pmaddubsw + pmaddwd on 16-row
// tiles. The loop nest is i2s_kernel.inc; this file supplies the vector ops.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*
// placeholders (GCC PR 105593); nothing in this file is uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx512 {

namespace {
#include "kernels/x86/i2s_ops512.inc"
struct V : VOps512 {
    static constexpr bool kVnni = false;
    static reg dot(reg acc, reg, reg) { return acc; }
    static reg maddubs(reg c, reg a) { return _mm512_maddubs_epi16(c, a); }
    static reg add16(reg a, reg b) { return _mm512_add_epi16(a, b); }
    template <int M = 1>
    static reg widen(reg acc, reg a16) { return _mm512_add_epi32(acc, _mm512_madd_epi16(a16, _mm512_set1_epi16(M))); }
};
}  // namespace

// Tiles per step for prefill, weight streams for decode, tokens per micro tile
// (measured per ISA; bench/README.md).
constexpr int kI2sRV = 1, kI2sRV1 = 4, kI2sMaxT = 8;
constexpr int kI2sRVTokens = kI2sMaxT;  // kI2sRV tiles per step at every token count
constexpr int kI2sStreamTokens = 4;
constexpr bool kI2sExpand = false;
#include "kernels/x86/i2s_kernel.inc"

}  // namespace tern::kernels::avx512
