// TL1 / TL2 lookup-table kernels for AVX-512 BW on 64-row tiles. The loop nest
// is tl_kernel.inc; this file supplies the vector ops: two vpshufb per lookup,
// vpunpck{l,h}bw back to int16 rows [0, 32) and [32, 64). TL2's sign bits are
// used as they are, as __mmask32 (one bit per int16 row), and negate with one
// masked subtract from zero.
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
    static constexpr int kTileRows = kTlTileRows512;
    static reg lo_nibbles(reg x) { return _mm512_and_si512(x, _mm512_set1_epi8(0x0f)); }
    static reg hi_nibbles(reg x) { return _mm512_and_si512(_mm512_srli_epi16(x, 4), _mm512_set1_epi8(0x0f)); }
    static reg bcast128(const uint8_t* p) {
        return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static reg lookup(reg tab, reg idx) { return _mm512_shuffle_epi8(tab, idx); }
    static reg unpacklo(reg l, reg h) { return _mm512_unpacklo_epi8(l, h); }
    static reg unpackhi(reg l, reg h) { return _mm512_unpackhi_epi8(l, h); }
    static reg add16(reg a, reg b) { return _mm512_add_epi16(a, b); }
    static reg widen_lo(reg e) { return _mm512_cvtepi16_epi32(_mm512_castsi512_si256(e)); }
    static reg widen_hi(reg e) { return _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(e, 1)); }

    using mask = __mmask32;
    static void signs(const uint8_t* p, mask m[4]) {
        uint32_t sb[4];  // first group: rows 0-31, 32-63; second group: the same
        __builtin_memcpy(sb, p, 16);
        m[0] = _cvtu32_mask32(sb[0]), m[1] = _cvtu32_mask32(sb[1]);
        m[2] = _cvtu32_mask32(sb[2]), m[3] = _cvtu32_mask32(sb[3]);
    }
    static reg negate_if(reg e, mask m) { return _mm512_mask_sub_epi16(e, m, _mm512_setzero_si512(), e); }
};
}  // namespace

#include "kernels/x86/tl_kernel.inc"

}  // namespace tern::kernels::avx512
