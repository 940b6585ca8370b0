// TL1 / TL2 lookup-table kernels for AVX2 (layouts: x86.h). The same scheme
// as tl_avx512.cpp on 32-row tiles: two vpshufb per lookup (low and high bytes
// of the int16 entries), vpunpck{l,h}bw back to int16 rows [0, 16) and
// [16, 32). TL2's sign bits become int16 lane masks (broadcast, and, compare)
// and negate by (e ^ m) - m.
//
// Overflow: as in tl_avx512.cpp, at most 126 TL1 entries (|e| <= 256) or 84
// TL2 entries (|e| <= 384) are added in int16 lanes before widening to int32:
// 32256 <= 32767 either way.
#include <immintrin.h>

#include "x86.h"

namespace tern::kernels::avx2 {

namespace {

constexpr int kR = 32;              // tile rows
constexpr int64_t kTl1Blocks = 63;  // index blocks (2 pairs each) per int16 chunk
constexpr int64_t kTl2Blocks = 42;  // index blocks (2 groups each) per int16 chunk
constexpr int kMaxT = 4;
constexpr int kStreams = 4;           // tiles in flight when decoding (n = 1)
constexpr int64_t kPrefetch = 1024;    // software prefetch distance along each stream

inline __m256i bcast128(const uint8_t* p) {
    return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
}

// 16 int16 entries (lanes 0..15) -> [16 low bytes][16 high bytes] at out.
inline void store_split(__m256i e, uint8_t* out) {
    const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,  //
                                           0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const __m256i b = _mm256_shuffle_epi8(e, split);  // lane0: lo0-7 hi0-7, lane1: lo8-15 hi8-15
    _mm256_store_si256(reinterpret_cast<__m256i*>(out), _mm256_permute4x64_epi64(b, 0xd8));
}

inline void widen_add(__m256i acc[4], __m256i e0, __m256i e1) {
    acc[0] = _mm256_add_epi32(acc[0], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(e0)));
    acc[1] = _mm256_add_epi32(acc[1], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(e0, 1)));
    acc[2] = _mm256_add_epi32(acc[2], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(e1)));
    acc[3] = _mm256_add_epi32(acc[3], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(e1, 1)));
}

inline void store_tile(int32_t* y, const __m256i acc[4], int64_t row0, int64_t row_begin, int64_t row_end) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
        const int64_t base = row0 + 8 * q;
        const int64_t lo = row_begin > base ? row_begin - base : 0;
        const int64_t hi = row_end - base < 8 ? row_end - base : 8;
        if (lo >= hi) continue;
        if (lo == 0 && hi == 8) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + base), acc[q]);
            continue;
        }
        const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi)), idx),
                                           _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(int(lo) - 1)));
        _mm256_maskstore_epi32(y + base, m, acc[q]);
    }
}

// 16 sign bits -> int16 lanes of 0 / -1.
inline __m256i sign_mask(uint32_t bits16) {
    const __m256i sel = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
                                          int16_t(-32768));
    return _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16(int16_t(bits16)), sel), sel);
}

inline __m256i negate_if(__m256i e, __m256i m) { return _mm256_sub_epi16(_mm256_xor_si256(e, m), m); }

// ---------------------------------------------------------------- TL1

// RV tiles (tile v at w + v * stride, rows row0 + v * row_step) x T tokens.
// Decode uses RV = 4 tiles spread over the row range: four long sequential
// weight streams (one stream reads ~30% slower here) sharing each table load.
template <int RV, int T>
void tl1_tiles(const uint8_t* w, int64_t stride, int64_t blocks, const uint8_t* tab, int64_t pb, int32_t* y,
               int64_t y_stride, int64_t row0, int64_t row_step, int64_t row_begin, int64_t row_end) {
    const __m256i nib = _mm256_set1_epi8(0x0f);
    __m256i acc[RV][T][4];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
            for (int q = 0; q < 4; ++q) acc[v][t][q] = _mm256_setzero_si256();
    for (int64_t c0 = 0; c0 < blocks; c0 += kTl1Blocks) {
        const int64_t c1 = c0 + kTl1Blocks < blocks ? c0 + kTl1Blocks : blocks;
        __m256i a0[RV][T], a1[RV][T];
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) a0[v][t] = a1[v][t] = _mm256_setzero_si256();
        for (int64_t pc = c0; pc < c1; ++pc) {
            __m256i i0[RV], i1[RV];
#pragma GCC unroll 4
            for (int v = 0; v < RV; ++v) {
                if (RV > 1) _mm_prefetch(reinterpret_cast<const char*>(w + v * stride + pc * kR + kPrefetch), _MM_HINT_T0);
                const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + v * stride + pc * kR));
                i0[v] = _mm256_and_si256(x, nib);
                i1[v] = _mm256_and_si256(_mm256_srli_epi16(x, 4), nib);
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const uint8_t* tp = tab + t * pb + pc * 64;  // pairs 2pc, 2pc+1: 32 bytes each
                const __m256i tl0 = bcast128(tp), th0 = bcast128(tp + 16), tl1 = bcast128(tp + 32), th1 = bcast128(tp + 48);
#pragma GCC unroll 4
                for (int v = 0; v < RV; ++v) {
                    const __m256i l0 = _mm256_shuffle_epi8(tl0, i0[v]), h0 = _mm256_shuffle_epi8(th0, i0[v]);
                    const __m256i l1 = _mm256_shuffle_epi8(tl1, i1[v]), h1 = _mm256_shuffle_epi8(th1, i1[v]);
                    a0[v][t] = _mm256_add_epi16(a0[v][t], _mm256_add_epi16(_mm256_unpacklo_epi8(l0, h0), _mm256_unpacklo_epi8(l1, h1)));
                    a1[v][t] = _mm256_add_epi16(a1[v][t], _mm256_add_epi16(_mm256_unpackhi_epi8(l0, h0), _mm256_unpackhi_epi8(l1, h1)));
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
    const __m256i nib = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    __m256i acc[RV][T][4];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
            for (int q = 0; q < 4; ++q) acc[v][t][q] = zero;
    for (int64_t c0 = 0; c0 < blocks; c0 += kTl2Blocks) {
        const int64_t c1 = c0 + kTl2Blocks < blocks ? c0 + kTl2Blocks : blocks;
        __m256i a0[RV][T], a1[RV][T];
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v)
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) a0[v][t] = a1[v][t] = zero;
        for (int64_t gp = c0; gp < c1; ++gp) {
            __m256i i0[RV], i1[RV];
#pragma GCC unroll 4
            for (int v = 0; v < RV; ++v) {
                if (RV > 1) _mm_prefetch(reinterpret_cast<const char*>(w + v * stride + gp * kR + kPrefetch), _MM_HINT_T0);
                const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + v * stride + gp * kR));
                i0[v] = _mm256_and_si256(x, nib);
                i1[v] = _mm256_and_si256(_mm256_srli_epi16(x, 4), nib);
            }
            __m256i m00[RV], m01[RV], m10[RV], m11[RV];
#pragma GCC unroll 4
            for (int v = 0; v < RV; ++v) {
                uint32_t sb[2];  // groups 2gp, 2gp+1: bit r = sign of row r
                __builtin_memcpy(sb, sign + v * stride + gp * 8, 8);
                m00[v] = sign_mask(sb[0] & 0xffff), m01[v] = sign_mask(sb[0] >> 16);
                m10[v] = sign_mask(sb[1] & 0xffff), m11[v] = sign_mask(sb[1] >> 16);
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const uint8_t* tp = tab + t * pb + gp * 64;  // groups 2gp, 2gp+1: 32 bytes each
                const __m256i tl0 = bcast128(tp), th0 = bcast128(tp + 16), tl1 = bcast128(tp + 32), th1 = bcast128(tp + 48);
#pragma GCC unroll 4
                for (int v = 0; v < RV; ++v) {
                    const __m256i l0 = _mm256_shuffle_epi8(tl0, i0[v]), h0 = _mm256_shuffle_epi8(th0, i0[v]);
                    const __m256i l1 = _mm256_shuffle_epi8(tl1, i1[v]), h1 = _mm256_shuffle_epi8(th1, i1[v]);
                    const __m256i e00 = negate_if(_mm256_unpacklo_epi8(l0, h0), m00[v]);
                    const __m256i e01 = negate_if(_mm256_unpackhi_epi8(l0, h0), m01[v]);
                    const __m256i e10 = negate_if(_mm256_unpacklo_epi8(l1, h1), m10[v]);
                    const __m256i e11 = negate_if(_mm256_unpackhi_epi8(l1, h1), m11[v]);
                    a0[v][t] = _mm256_add_epi16(a0[v][t], _mm256_add_epi16(e00, e10));
                    a1[v][t] = _mm256_add_epi16(a1[v][t], _mm256_add_epi16(e01, e11));
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

}  // namespace tern::kernels::avx2
