// I2S matmul for AVX2: pmaddubsw + pmaddwd on 8-row tiles. Loop nest:
// i2s_kernel.inc; this file supplies the vector ops.
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx2 {

namespace {
#include "kernels/x86/i2s_ops256.inc"
struct V : VOps256 {
    static constexpr bool kVnni = false;
    static reg dot(reg acc, reg, reg) { return acc; }
    static reg maddubs(reg c, reg a) { return _mm256_maddubs_epi16(c, a); }
    static reg add16(reg a, reg b) { return _mm256_add_epi16(a, b); }
    template <int M = 1>
    static reg widen(reg acc, reg a16) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a16, _mm256_set1_epi16(M))); }
};
}  // namespace

// Tiles per step for prefill, weight streams for decode, tokens per micro tile
// (measured per ISA; bench/README.md).
constexpr int kI2sRV = 2, kI2sRV1 = 4, kI2sMaxT = 8;
// Two tiles per step up to 4 tokens; from 5 on one tile of up to 8 tokens,
// whose codes serve twice the products (tern_bench i2s/avx2/2B4T N:8,
// 1 thread: 1.17 / 1.24 -> 1.10 / 1.08 ms; N:2 is slower with one tile).
constexpr int kI2sRVTokens = 4;
// Two to four tokens (batched decoding) take the prefill tiles, whose int16
// sums widen once per 8 column blocks, not the decode streams, which widen
// every block: compute-bound from 2 tokens here (tern_bench i2s/avx2/2B4T
// N:4, 1 thread: 0.71-0.75 -> 0.57-0.59 ms; bench/README.md).
constexpr int kI2sStreamTokens = 1;
constexpr bool kI2sExpand = true;  // prefill from expanded weights (i2s_kernel.inc)
#include "kernels/x86/i2s_kernel.inc"

}  // namespace tern::kernels::avx2
