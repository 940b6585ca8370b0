// TL1 / TL2 lookup-table kernels for AVX2 on 32-row tiles. The loop nest is
// tl_kernel.inc; this file supplies the vector ops: two vpshufb per lookup (low
// and high bytes of the int16 entries), vpunpck{l,h}bw back to int16 rows
// [0, 16) and [16, 32). TL2's sign bits become int16 lane masks (broadcast,
// and, compare) and negate by (e ^ m) - m.
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx2 {

namespace {
#include "kernels/x86/i2s_ops256.inc"
struct V : VOps256 {
    static constexpr int kTileRows = kTlTileRows256;
    static reg lo_nibbles(reg x) { return _mm256_and_si256(x, _mm256_set1_epi8(0x0f)); }
    static reg hi_nibbles(reg x) { return _mm256_and_si256(_mm256_srli_epi16(x, 4), _mm256_set1_epi8(0x0f)); }
    static reg bcast128(const uint8_t* p) {
        return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static reg lookup(reg tab, reg idx) { return _mm256_shuffle_epi8(tab, idx); }
    static reg unpacklo(reg l, reg h) { return _mm256_unpacklo_epi8(l, h); }
    static reg unpackhi(reg l, reg h) { return _mm256_unpackhi_epi8(l, h); }
    static reg add16(reg a, reg b) { return _mm256_add_epi16(a, b); }
    static reg widen_lo(reg e) { return _mm256_cvtepi16_epi32(_mm256_castsi256_si128(e)); }
    static reg widen_hi(reg e) { return _mm256_cvtepi16_epi32(_mm256_extracti128_si256(e, 1)); }

    // 16 sign bits -> int16 lanes of 0 / -1.
    using mask = __m256i;
    static mask sign_mask(uint32_t bits16) {
        const __m256i sel = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
                                              int16_t(-32768));
        return _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16(int16_t(bits16)), sel), sel);
    }
    static void signs(const uint8_t* p, mask m[4]) {
        uint32_t sb[2];  // per group: bit r = sign of row r
        __builtin_memcpy(sb, p, 8);
        m[0] = sign_mask(sb[0] & 0xffff), m[1] = sign_mask(sb[0] >> 16);
        m[2] = sign_mask(sb[1] & 0xffff), m[3] = sign_mask(sb[1] >> 16);
    }
    static reg negate_if(reg e, mask m) { return _mm256_sub_epi16(_mm256_xor_si256(e, m), m); }
};
}  // namespace

#include "kernels/x86/tl_kernel.inc"

}  // namespace tern::kernels::avx2
