// TL1 / TL2 lookup-table kernels for AVX-512 BW (layouts: x86.h).
//
// Each token's table holds, per pair (TL1) or triple (TL2) of activations, the
// int16 sums of every weight pattern, split into a 16-byte plane of low bytes
// and one of high bytes. A lookup is two vpshufb (the 4-bit pattern indices of
// 64 rows select bytes from a table broadcast to every 128-bit lane), and
// vpunpck{l,h}bw glue the bytes back into int16: rows [0, 32) and [32, 64) of
// the tile in order (the repack permuted the rows for exactly that). TL2 then
// negates the rows whose sign bit is set with one masked subtract.
//
// Overflow: a TL1 entry is w0*a0 + w1*a1, |entry| <= 256; int16 lanes add at
// most kTl1Chunk = 126 entries before widening: 126 * 256 = 32256 <= 32767.
// A TL2 entry is a sum of three, |entry| <= 384, kTl2Chunk = 84 entries:
// 84 * 384 = 32256. Widening is exact sign extension into int32.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*
// placeholders (GCC PR 105593); nothing in this file is uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "x86.h"

namespace tern::kernels::avx512 {

namespace {

constexpr int kR = 64;           // tile rows
constexpr int64_t kTl1Blocks = 63;  // index blocks (2 pairs each) per int16 chunk
constexpr int64_t kTl2Blocks = 42;  // index blocks (2 groups each) per int16 chunk
constexpr int kMaxT = 4;
constexpr int kStreams = 4;           // tiles in flight when decoding (n = 1)
constexpr int64_t kPrefetch = 1024;    // software prefetch distance along each stream

inline __m512i bcast128(const uint8_t* p) {
    return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
}

// 16 int16 entries (lanes 0..15) -> [16 low bytes][16 high bytes] at out.
inline void store_split(__m256i e, uint8_t* out) {
    const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,  //
                                           0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const __m256i b = _mm256_shuffle_epi8(e, split);  // lane0: lo0-7 hi0-7, lane1: lo8-15 hi8-15
    _mm256_store_si256(reinterpret_cast<__m256i*>(out), _mm256_permute4x64_epi64(b, 0xd8));
}

inline void widen_add(__m512i acc[4], __m512i e0, __m512i e1) {
    acc[0] = _mm512_add_epi32(acc[0], _mm512_cvtepi16_epi32(_mm512_castsi512_si256(e0)));
    acc[1] = _mm512_add_epi32(acc[1], _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(e0, 1)));
    acc[2] = _mm512_add_epi32(acc[2], _mm512_cvtepi16_epi32(_mm512_castsi512_si256(e1)));
    acc[3] = _mm512_add_epi32(acc[3], _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(e1, 1)));
}

inline void store_tile(int32_t* y, const __m512i acc[4], int64_t row0, int64_t row_begin, int64_t row_end) {
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
        const int64_t base = row0 + 16 * q;
        const int64_t lo = row_begin > base ? row_begin - base : 0;
        const int64_t hi = row_end - base < 16 ? row_end - base : 16;
        if (lo >= hi) continue;
        const __mmask16 k = __mmask16(((1u << hi) - 1) & ~((1u << lo) - 1));
        _mm512_mask_storeu_epi32(y + base, k, acc[q]);
    }
}

// ---------------------------------------------------------------- TL1

// RV tiles (tile v at w + v * stride, rows row0 + v * row_step) x T tokens.
// Decode uses RV = 4 tiles spread over the row range: four long sequential
// weight streams (one stream reads ~30% slower here) sharing each table load.
template <int RV, int T>
void tl1_tiles(const uint8_t* w, int64_t stride, int64_t blocks, const uint8_t* tab, int64_t pb, int32_t* y,
               int64_t y_stride, int64_t row0, int64_t row_step, int64_t row_begin, int64_t row_end) {
    const __m512i nib = _mm512_set1_epi8(0x0f);
    __m512i acc[RV][T][4];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
            for (int q = 0; q < 4; ++q) acc[v][t][q] = _mm512_setzero_si512();
    for (int64_t c0 = 0; c0 < blocks; c0 += kTl1Blocks) {
        const int64_t c1 = c0 + kTl1Blocks < blocks ? c0 + kTl1Blocks : blocks;
        __m512i a0[RV][T], a1[RV][T];
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) a0[v][t] = a1[v][t] = _mm512_setzero_si512();
        for (int64_t pc = c0; pc < c1; ++pc) {
            __m512i i0[RV], i1[RV];
#pragma GCC unroll 4
            for (int v = 0; v < RV; ++v) {
                if (RV > 1) _mm_prefetch(reinterpret_cast<const char*>(w + v * stride + pc * kR + kPrefetch), _MM_HINT_T0);
                const __m512i x = _mm512_load_si512(w + v * stride + pc * kR);
                i0[v] = _mm512_and_si512(x, nib);
                i1[v] = _mm512_and_si512(_mm512_srli_epi16(x, 4), nib);
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const uint8_t* tp = tab + t * pb + pc * 64;  // pairs 2pc, 2pc+1: 32 bytes each
                const __m512i tl0 = bcast128(tp), th0 = bcast128(tp + 16), tl1 = bcast128(tp + 32), th1 = bcast128(tp + 48);
#pragma GCC unroll 4
                for (int v = 0; v < RV; ++v) {
                    const __m512i l0 = _mm512_shuffle_epi8(tl0, i0[v]), h0 = _mm512_shuffle_epi8(th0, i0[v]);
                    const __m512i l1 = _mm512_shuffle_epi8(tl1, i1[v]), h1 = _mm512_shuffle_epi8(th1, i1[v]);
                    a0[v][t] = _mm512_add_epi16(a0[v][t], _mm512_add_epi16(_mm512_unpacklo_epi8(l0, h0), _mm512_unpacklo_epi8(l1, h1)));
                    a1[v][t] = _mm512_add_epi16(a1[v][t], _mm512_add_epi16(_mm512_unpackhi_epi8(l0, h0), _mm512_unpackhi_epi8(l1, h1)));
                }
            }
        }
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) widen_add(acc[v][t], a0[v][t], a1[v][t]);
    }
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            store_tile(y + t * y_stride, acc[v][t], row0 + v * row_step, row_begin, row_end);
}

// ---------------------------------------------------------------- TL2

// As tl1_tiles, over group pairs, with the sign plane at `sign` (same stride).
template <int RV, int T>
void tl2_tiles(const uint8_t* w, const uint8_t* sign, int64_t stride, int64_t blocks, const uint8_t* tab, int64_t pb,
               int32_t* y, int64_t y_stride, int64_t row0, int64_t row_step, int64_t row_begin, int64_t row_end) {
    const __m512i nib = _mm512_set1_epi8(0x0f), zero = _mm512_setzero_si512();
    __m512i acc[RV][T][4];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
            for (int q = 0; q < 4; ++q) acc[v][t][q] = zero;
    for (int64_t c0 = 0; c0 < blocks; c0 += kTl2Blocks) {
        const int64_t c1 = c0 + kTl2Blocks < blocks ? c0 + kTl2Blocks : blocks;
        __m512i a0[RV][T], a1[RV][T];
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) a0[v][t] = a1[v][t] = zero;
        for (int64_t gp = c0; gp < c1; ++gp) {
            __m512i i0[RV], i1[RV];
#pragma GCC unroll 4
            for (int v = 0; v < RV; ++v) {
                if (RV > 1) _mm_prefetch(reinterpret_cast<const char*>(w + v * stride + gp * kR + kPrefetch), _MM_HINT_T0);
                const __m512i x = _mm512_load_si512(w + v * stride + gp * kR);
                i0[v] = _mm512_and_si512(x, nib);
                i1[v] = _mm512_and_si512(_mm512_srli_epi16(x, 4), nib);
            }
            __mmask32 k00[RV], k01[RV], k10[RV], k11[RV];
#pragma GCC unroll 4
            for (int v = 0; v < RV; ++v) {
                uint32_t sb[4];  // group 2gp: rows 0-31, 32-63; group 2gp+1: the same
                __builtin_memcpy(sb, sign + v * stride + gp * 16, 16);
                k00[v] = _cvtu32_mask32(sb[0]), k01[v] = _cvtu32_mask32(sb[1]);
                k10[v] = _cvtu32_mask32(sb[2]), k11[v] = _cvtu32_mask32(sb[3]);
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const uint8_t* tp = tab + t * pb + gp * 64;  // groups 2gp, 2gp+1: 32 bytes each
                const __m512i tl0 = bcast128(tp), th0 = bcast128(tp + 16), tl1 = bcast128(tp + 32), th1 = bcast128(tp + 48);
#pragma GCC unroll 4
                for (int v = 0; v < RV; ++v) {
                    const __m512i l0 = _mm512_shuffle_epi8(tl0, i0[v]), h0 = _mm512_shuffle_epi8(th0, i0[v]);
                    const __m512i l1 = _mm512_shuffle_epi8(tl1, i1[v]), h1 = _mm512_shuffle_epi8(th1, i1[v]);
                    const __m512i e00 = _mm512_mask_sub_epi16(_mm512_unpacklo_epi8(l0, h0), k00[v], zero, _mm512_unpacklo_epi8(l0, h0));
                    const __m512i e01 = _mm512_mask_sub_epi16(_mm512_unpackhi_epi8(l0, h0), k01[v], zero, _mm512_unpackhi_epi8(l0, h0));
                    const __m512i e10 = _mm512_mask_sub_epi16(_mm512_unpacklo_epi8(l1, h1), k10[v], zero, _mm512_unpacklo_epi8(l1, h1));
                    const __m512i e11 = _mm512_mask_sub_epi16(_mm512_unpackhi_epi8(l1, h1), k11[v], zero, _mm512_unpackhi_epi8(l1, h1));
                    a0[v][t] = _mm512_add_epi16(a0[v][t], _mm512_add_epi16(e00, e10));
                    a1[v][t] = _mm512_add_epi16(a1[v][t], _mm512_add_epi16(e01, e11));
                }
            }
        }
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) widen_add(acc[v][t], a0[v][t], a1[v][t]);
    }
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            store_tile(y + t * y_stride, acc[v][t], row0 + v * row_step, row_begin, row_end);
}

// Decode: kStreams tiles spread over the range (tile i, i + step, ...); the
// remainder and every prefill tile one at a time with up to kMaxT tokens.
template <class Tiles, class One>
inline void over_tiles(int64_t n, int64_t row_begin, int64_t row_end, Tiles&& tiles, One&& one) {
    const int64_t tile_begin = row_begin / kR, tile_end = (row_end + kR - 1) / kR;
    int64_t tile = tile_begin;
    if (n == 1) {
        const int64_t step = (tile_end - tile_begin) / kStreams;
        for (int64_t i = 0; i < step; ++i) tiles(tile_begin + i, step);
        tile = tile_begin + kStreams * step;
    }
    for (; tile < tile_end; ++tile)
        for (int64_t t0 = 0; t0 < n; t0 += kMaxT) one(tile, t0, int(n - t0 < kMaxT ? n - t0 : kMaxT));
}

}  // namespace

void tl1_build_table(const int8_t* a, int64_t padded_cols, uint8_t* table) {
    // Entry i = (i/3 - 1) * a0 + (i%3 - 1) * a1 for i < 9, 0 above.
    const __m256i c0 = _mm256_setr_epi16(-1, -1, -1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0);
    const __m256i c1 = _mm256_setr_epi16(-1, 0, 1, -1, 0, 1, -1, 0, 1, 0, 0, 0, 0, 0, 0, 0);
    for (int64_t p = 0; p < padded_cols / 2; ++p) {
        const __m256i e = _mm256_add_epi16(_mm256_sign_epi16(_mm256_set1_epi16(a[2 * p]), c0),
                                           _mm256_sign_epi16(_mm256_set1_epi16(a[2 * p + 1]), c1));
        store_split(e, table + p * 32);
    }
}

void tl1_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    const int64_t pb = x86::tl1_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) tl1_build_table(q + t * q_stride, padded_cols, out + t * pb);
}

void tl1_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    if (n <= 0 || row_begin >= row_end) return;
    const int64_t tile_bytes = w.param[2], blocks = w.padded_cols / 4, pb = x86::tl1_prepared_bytes(w.padded_cols);
    const uint8_t* wd = w.data.data();
    over_tiles(
        n, row_begin, row_end,
        [&](int64_t tile, int64_t step) {
            tl1_tiles<kStreams, 1>(wd + tile * tile_bytes, step * tile_bytes, blocks, prepared, pb, y, y_stride, tile * kR,
                                   step * kR, row_begin, row_end);
        },
        [&](int64_t tile, int64_t t0, int T) {
            const uint8_t* wt = wd + tile * tile_bytes;
            const uint8_t* tab = prepared + t0 * pb;
            int32_t* yt = y + t0 * y_stride;
            switch (T) {
                case 1: tl1_tiles<1, 1>(wt, 0, blocks, tab, pb, yt, y_stride, tile * kR, 0, row_begin, row_end); break;
                case 2: tl1_tiles<1, 2>(wt, 0, blocks, tab, pb, yt, y_stride, tile * kR, 0, row_begin, row_end); break;
                case 3: tl1_tiles<1, 3>(wt, 0, blocks, tab, pb, yt, y_stride, tile * kR, 0, row_begin, row_end); break;
                default: tl1_tiles<1, 4>(wt, 0, blocks, tab, pb, yt, y_stride, tile * kR, 0, row_begin, row_end); break;
            }
        });
}

void tl2_build_table(const int8_t* a, int64_t padded_cols, uint8_t* table) {
    // Pattern v < 14: weights (v/9 - 1, v/3%3 - 1, v%3 - 1); lanes 14, 15 are 0.
    const __m256i c0 = _mm256_setr_epi16(-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0);
    const __m256i c1 = _mm256_setr_epi16(-1, -1, -1, 0, 0, 0, 1, 1, 1, -1, -1, -1, 0, 0, 0, 0);
    const __m256i c2 = _mm256_setr_epi16(-1, 0, 1, -1, 0, 1, -1, 0, 1, -1, 0, 1, -1, 0, 0, 0);
    const int64_t G = (padded_cols + 2) / 3, G2 = x86::tl2_groups_even(padded_cols);
    for (int64_t g = 0; g < G2; ++g) {
        int16_t ak[3];
        for (int k = 0; k < 3; ++k) ak[k] = g < G && 3 * g + k < padded_cols ? a[3 * g + k] : 0;
        const __m256i e = _mm256_add_epi16(_mm256_add_epi16(_mm256_sign_epi16(_mm256_set1_epi16(ak[0]), c0),
                                                            _mm256_sign_epi16(_mm256_set1_epi16(ak[1]), c1)),
                                           _mm256_sign_epi16(_mm256_set1_epi16(ak[2]), c2));
        store_split(e, table + g * 32);
    }
}

void tl2_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    const int64_t pb = x86::tl2_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) tl2_build_table(q + t * q_stride, padded_cols, out + t * pb);
}

void tl2_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    if (n <= 0 || row_begin >= row_end) return;
    const int64_t tile_bytes = w.param[2], G2 = w.param[3], blocks = G2 / 2;
    const int64_t pb = x86::tl2_prepared_bytes(w.padded_cols), idx_bytes = blocks * kR;
    const uint8_t* wd = w.data.data();
    over_tiles(
        n, row_begin, row_end,
        [&](int64_t tile, int64_t step) {
            const uint8_t* wt = wd + tile * tile_bytes;
            tl2_tiles<kStreams, 1>(wt, wt + idx_bytes, step * tile_bytes, blocks, prepared, pb, y, y_stride, tile * kR,
                                   step * kR, row_begin, row_end);
        },
        [&](int64_t tile, int64_t t0, int T) {
            const uint8_t* wt = wd + tile * tile_bytes;
            const uint8_t* sg = wt + idx_bytes;
            const uint8_t* tab = prepared + t0 * pb;
            int32_t* yt = y + t0 * y_stride;
            switch (T) {
                case 1: tl2_tiles<1, 1>(wt, sg, 0, blocks, tab, pb, yt, y_stride, tile * kR, 0, row_begin, row_end); break;
                case 2: tl2_tiles<1, 2>(wt, sg, 0, blocks, tab, pb, yt, y_stride, tile * kR, 0, row_begin, row_end); break;
                case 3: tl2_tiles<1, 3>(wt, sg, 0, blocks, tab, pb, yt, y_stride, tile * kR, 0, row_begin, row_end); break;
                default: tl2_tiles<1, 4>(wt, sg, 0, blocks, tab, pb, yt, y_stride, tile * kR, 0, row_begin, row_end); break;
            }
        });
}

}  // namespace tern::kernels::avx512
