// Full-precision matmul and row dequantization for AVX-512. The loop nest is
// float_kernel.inc; this file supplies the vector ops, the row decoders and
// the schedule. One zmm holds ref.h's 16 lanes; a ragged tail updates only its
// lanes (masked loads and add).
//
// Speed: decode (n = 1) reads at memory speed with 4 rows in flight (4
// independent add chains); more tokens reuse each dequantized weight vector
// for up to 4 tokens, and up to 16 (batched decoding) go over the same 4 row
// streams in groups of 4 (matmul below).
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

constexpr int kStreams = 4;  // rows in flight when decoding (n = 1)

struct V {
    using vec = __m512;
    static constexpr int64_t kStreamTokens = 16;
    static constexpr int64_t kPrefetch = 2048;
    static vec zero() { return _mm512_setzero_ps(); }
    static vec load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
    static vec madd(vec acc, vec w, vec x) { return _mm512_add_ps(acc, _mm512_mul_ps(w, x)); }
    static __m256 fold8(vec v) {
        return _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    }

    // The cols % 16 last elements of each row and token: masked loads (L::part), masked add.
    template <class L, int RR, int TT>
    static void tail(vec (&acc)[RR][TT], const uint8_t* w, int64_t row_bytes, int64_t cols, int64_t full,
                     const float* x, int64_t x_stride, int64_t r0, int64_t rstep) {
        if (cols % 16) {
            const __mmask16 k = __mmask16((1u << (cols % 16)) - 1);
            __m512 xv[TT];
#pragma GCC unroll 4
            for (int t = 0; t < TT; ++t) xv[t] = _mm512_maskz_loadu_ps(k, x + t * x_stride + 16 * full);
#pragma GCC unroll 4
            for (int r = 0; r < RR; ++r) {
                const __m512 wv = L::part(w + (r0 + r * rstep) * row_bytes, full, k);
#pragma GCC unroll 4
                for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_mask_add_ps(acc[r][t], k, acc[r][t], _mm512_mul_ps(wv, xv[t]));
            }
        }
    }
    template <class L>
    static void dequant_tail(const uint8_t* src, float* dst, int64_t cols, int64_t full) {
        if (cols % 16) {
            const __mmask16 k = __mmask16((1u << (cols % 16)) - 1);
            _mm512_mask_storeu_ps(dst + 16 * full, k, L::part(src, full, k));
        }
    }
};

inline __m512 f16x16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

inline __m512 bf16x16(const uint8_t* p) {
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}

inline float half_to_float(const uint8_t* p) {
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// Step c of a row, dequantized: kVecs vectors of 16 elements (a Q8_0 block,
// two Q6_K sub-blocks), so per-block scalars are converted once per step.
// part(row, c, k): the lanes k of vector c (the tail of a plain type's row).
struct LoadF32 {
    static constexpr int kVecs = 1, kStepBytes = 64;
    static void full(const uint8_t* row, int64_t c, __m512* out) {
        out[0] = _mm512_loadu_ps(reinterpret_cast<const float*>(row) + 16 * c);
    }
    static __m512 part(const uint8_t* row, int64_t c, __mmask16 k) {
        return _mm512_maskz_loadu_ps(k, reinterpret_cast<const float*>(row) + 16 * c);
    }
};
struct LoadF16 {
    static constexpr int kVecs = 1, kStepBytes = 32;
    static void full(const uint8_t* row, int64_t c, __m512* out) { out[0] = f16x16(row + 32 * c); }
    static __m512 part(const uint8_t* row, int64_t c, __mmask16 k) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, row + 32 * c));
    }
};
struct LoadBF16 {
    static constexpr int kVecs = 1, kStepBytes = 32;
    static void full(const uint8_t* row, int64_t c, __m512* out) { out[0] = bf16x16(row + 32 * c); }
    static __m512 part(const uint8_t* row, int64_t c, __mmask16 k) {
        const __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, row + 32 * c));
        return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
    }
};
struct LoadQ8_0 {
    static constexpr int kVecs = 2, kStepBytes = 34;
    static void full(const uint8_t* row, int64_t c, __m512* out) {
        const uint8_t* b = row + c * 34;
        const __m512 d = _mm512_set1_ps(half_to_float(b));
        const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
        const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18));
        out[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
        out[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
    }
    static __m512 part(const uint8_t*, int64_t, __mmask16) { return _mm512_setzero_ps(); }  // never: whole blocks
};
struct LoadQ6_K {
    static constexpr int kVecs = 2, kStepBytes = 27;  // 210 bytes per 8 steps (prefetch distance only)
    // Step c covers elements 32s .. 32s+31 of block c/8 (s = c % 8, h = s/4,
    // k = s%4), i.e. ref's 128h + 32k + l for l < 32: low 4 bits from
    // ql[64h + 32(k&1) + l] (high nibble when k >= 2), high 2 bits from
    // qh[32h + l] >> 2k, scale scales[8h + 2k + l/16].
    static void full(const uint8_t* row, int64_t c, __m512* out) {
        const uint8_t* b = row + (c / 8) * 210;
        const int st = int(c % 8), h = st / 4, k = st % 4;
        const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + 32 * (k & 1)));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
        const __m256i lo4 = _mm256_and_si256(k >= 2 ? _mm256_srli_epi16(ql, 4) : ql, _mm256_set1_epi8(0x0f));
        const __m256i hi2 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), _mm256_set1_epi8(3));
        const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo4, _mm256_slli_epi16(hi2, 4)), _mm256_set1_epi8(32));
        const float d = half_to_float(b + 208);
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * h + 2 * k);
        out[0] = _mm512_mul_ps(_mm512_set1_ps(d * float(sc[0])),
                               _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))));
        out[1] = _mm512_mul_ps(_mm512_set1_ps(d * float(sc[1])),
                               _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))));
    }
    static __m512 part(const uint8_t*, int64_t, __mmask16) { return _mm512_setzero_ps(); }  // never: whole blocks
};

// Q4_K (Q5 false) / Q5_K: step c is sub-block j = c % 8 of block c / 8, its 32
// elements (layout in formats.h) as ref's (d * sc) * q - (dmin * m).
template <bool Q5>
struct LoadK {
    static constexpr int kBlock = Q5 ? 176 : 144, kQs = Q5 ? 48 : 16;
    static constexpr int kVecs = 2, kStepBytes = kBlock / 8;  // (prefetch distance only)
    static void full(const uint8_t* row, int64_t c, __m512* out) {
        const uint8_t* b = row + (c / 8) * kBlock;
        const int j = int(c % 8), p = j / 2, s = j % 2;
        int sc, m;
        k_scale_min(b + 4, j, sc, m);
        const __m512 d1 = _mm512_set1_ps(half_to_float(b) * float(sc));
        const __m512 m1 = _mm512_set1_ps(half_to_float(b + 2) * float(m));
        __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kQs + 32 * p));
        q = _mm256_and_si256(s ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0f));
        if constexpr (Q5) {
            const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
            const __m256i bit = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(j)), _mm256_set1_epi8(1));
            q = _mm256_or_si256(q, _mm256_slli_epi16(bit, 4));
        }
        out[0] = _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(q)))), m1);
        out[1] = _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(q, 1)))), m1);
    }
    static __m512 part(const uint8_t*, int64_t, __mmask16) { return _mm512_setzero_ps(); }  // never: whole blocks
};
using LoadQ4_K = LoadK<false>;
using LoadQ5_K = LoadK<true>;

}  // namespace

#include "kernels/x86/float_kernel.inc"

namespace {

template <class L>
void matmul(const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n, int64_t x_stride, float* y,
            int64_t y_stride, int64_t row_begin, int64_t row_end, int64_t ahead) {
    constexpr int kT = 4;
    if (n <= V::kStreamTokens) {
        // Decode and batched decoding: kStreams long sequential streams, each
        // over its share of the range (what the prefetchers like; 4 adjacent
        // rows restart a stream every few KB and read ~40 % slower), every
        // token group over the same 4 rows before the streams move on.
        const int64_t q = (row_end - row_begin) / kStreams;
        // Only the first group streams the rows from memory (prefetching along
        // them); the later ones find them in cache.
        const auto rows = [&]<int RR>(int64_t r0, int64_t rstep) {
            for (int64_t t0 = 0; t0 < n; t0 += kT)
                x86::with_tokens<kT>(n - t0, [&]<int TT>() {
                    const float* xt = x + t0 * x_stride;
                    float* yt = y + t0 * y_stride;
                    if (t0 == 0) tile<L, RR, TT, true>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r0, rstep);
                    else tile<L, RR, TT, false>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r0, rstep);
                });
        };
        for (int64_t i = 0; i < q; ++i) rows.template operator()<kStreams>(row_begin + i, q);
        for (int64_t r = row_begin + kStreams * q; r < row_end; ++r) rows.template operator()<1>(r, 1);
        return;
    }
    for (int64_t t0 = 0; t0 < n; t0 += kT) {
        const int64_t tt = n - t0 < kT ? n - t0 : kT;
        const float* xt = x + t0 * x_stride;
        float* yt = y + t0 * y_stride;
        const int64_t next = t0 + kT >= n ? ahead : 0;  // the last of several groups
        int64_t r = row_begin;
        switch (tt) {
            case 1:
                for (; r + 4 <= row_end; r += 4) tile<L, 4, 1>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r, 1, next);
                for (; r < row_end; ++r) tile<L, 1, 1>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                break;
            case 2:
                for (; r + 4 <= row_end; r += 4) tile<L, 4, 2>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r, 1, next);
                for (; r < row_end; ++r) tile<L, 1, 2>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                break;
            case 3:
                for (; r + 4 <= row_end; r += 4) tile<L, 4, 3>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r, 1, next);
                for (; r < row_end; ++r) tile<L, 1, 3>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                break;
            default:
                for (; r + 4 <= row_end; r += 4) tile<L, 4, 4>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r, 1, next);
                for (; r < row_end; ++r) tile<L, 1, 4>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                break;
        }
    }
}

}  // namespace

}  // namespace tern::kernels::avx512
