// Full-precision matmul and row dequantization for AVX2 + F16C. The loop nest
// is float_kernel.inc; this file supplies the vector ops, the row decoders and
// the schedule. ref.h's 16 lanes are two ymm (lanes 0-7 and 8-15); a ragged
// tail goes through a zeroed staging buffer and only its lanes are updated
// (blend). Decoders give one 16-element chunk per step.
#include <immintrin.h>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx2 {

namespace {

struct V16 {
    __m256 a, b;  // lanes 0-7, 8-15
};

struct V {
    using vec = V16;
    static constexpr int64_t kStreamTokens = 1;
    static constexpr int64_t kPrefetch = 768;
    static vec zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
    static vec load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
    static void store(float* p, vec v) {
        _mm256_storeu_ps(p, v.a);
        _mm256_storeu_ps(p + 8, v.b);
    }
    static vec madd(vec acc, vec w, vec x) {
        return {_mm256_add_ps(acc.a, _mm256_mul_ps(w.a, x.a)), _mm256_add_ps(acc.b, _mm256_mul_ps(w.b, x.b))};
    }
    static __m256 fold8(vec v) { return _mm256_add_ps(v.a, v.b); }

    // Plain types only (L::kElemBytes > 0): the rem = cols % 16 last elements
    // of each row and token, zero-padded in staging buffers.
    template <class L, int RR, int TT>
    static void tail(vec (&acc)[RR][TT], const uint8_t* w, int64_t row_bytes, int64_t cols, int64_t full,
                     const float* x, int64_t x_stride, int64_t r0, int64_t rstep) {
        if constexpr (L::kElemBytes > 0) {
            const int rem = int(cols % 16);
            if (rem) {
                const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                const __m256 ma = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(rem), idx));
                const __m256 mb = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(rem - 8), idx));
                alignas(32) uint8_t wbuf[64];
                alignas(32) float xbuf[16];
                for (int t = 0; t < TT; ++t) {
                    for (int i = 0; i < 16; ++i) xbuf[i] = i < rem ? x[t * x_stride + 16 * full + i] : 0.0f;
                    const V16 xv = {_mm256_load_ps(xbuf), _mm256_load_ps(xbuf + 8)};
                    for (int r = 0; r < RR; ++r) {
                        const uint8_t* src = w + (r0 + r * rstep) * row_bytes + 16 * full * L::kElemBytes;
                        for (int i = 0; i < 64; ++i) wbuf[i] = i < rem * L::kElemBytes ? src[i] : 0;
                        V16 wv;
                        L::full(wbuf, 0, &wv);
                        acc[r][t].a = _mm256_blendv_ps(acc[r][t].a, _mm256_add_ps(acc[r][t].a, _mm256_mul_ps(wv.a, xv.a)), ma);
                        acc[r][t].b = _mm256_blendv_ps(acc[r][t].b, _mm256_add_ps(acc[r][t].b, _mm256_mul_ps(wv.b, xv.b)), mb);
                    }
                }
            }
        }
    }
    template <class L>
    static void dequant_tail(const uint8_t* src, float* dst, int64_t cols, int64_t full) {
        if constexpr (L::kElemBytes > 0) {
            const int rem = int(cols % 16);
            if (rem) {
                alignas(32) uint8_t wbuf[64] = {};
                alignas(32) float out[16];
                for (int i = 0; i < rem * L::kElemBytes; ++i) wbuf[i] = src[16 * full * L::kElemBytes + i];
                V16 v;
                L::full(wbuf, 0, &v);
                _mm256_store_ps(out, v.a);
                _mm256_store_ps(out + 8, v.b);
                for (int i = 0; i < rem; ++i) dst[16 * full + i] = out[i];
            }
        }
    }
};

inline float half_to_float(const uint8_t* p) {
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

inline V16 i8x16_to_f(__m128i q, __m256 scale) {
    return {_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), scale),
            _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), scale)};
}

// Chunk c (16 elements) of a row, dequantized. kElemBytes: bytes per element
// of the plain types (the tail's staging copy), 0 for block types.
struct LoadF32 {
    static constexpr int kVecs = 1, kStepBytes = 64, kElemBytes = 4;
    static void full(const uint8_t* row, int64_t c, V16* out) {
        const float* p = reinterpret_cast<const float*>(row) + 16 * c;
        out[0] = {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
    }
};
struct LoadF16 {
    static constexpr int kVecs = 1, kStepBytes = 32, kElemBytes = 2;
    static void full(const uint8_t* row, int64_t c, V16* out) {
        const __m128i* p = reinterpret_cast<const __m128i*>(row + 32 * c);
        out[0] = {_mm256_cvtph_ps(_mm_loadu_si128(p)), _mm256_cvtph_ps(_mm_loadu_si128(p + 1))};
    }
};
struct LoadBF16 {
    static constexpr int kVecs = 1, kStepBytes = 32, kElemBytes = 2;
    static void full(const uint8_t* row, int64_t c, V16* out) {
        const __m128i* p = reinterpret_cast<const __m128i*>(row + 32 * c);
        out[0] = {_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(p)), 16)),
                  _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(p + 1)), 16))};
    }
};
struct LoadQ8_0 {
    static constexpr int kVecs = 1, kStepBytes = 17, kElemBytes = 0;
    static void full(const uint8_t* row, int64_t c, V16* out) {
        const uint8_t* b = row + (c / 2) * 34;
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 + 16 * (c % 2)));
        out[0] = i8x16_to_f(q, _mm256_set1_ps(half_to_float(b)));
    }
};
struct LoadQ6_K {
    static constexpr int kVecs = 1, kStepBytes = 13, kElemBytes = 0;
    // Element order and scales: see float_avx512.cpp.
    static void full(const uint8_t* row, int64_t c, V16* out) {
        const uint8_t* b = row + (c / 16) * 210;
        const int cc = int(c % 16), h = cc / 8, k = (cc / 2) % 4, half = cc % 2;
        const __m128i ql = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 64 * h + 16 * half + 32 * (k & 1)));
        const __m128i qh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 128 + 32 * h + 16 * half));
        const __m128i lo4 = _mm_and_si128(k >= 2 ? _mm_srli_epi16(ql, 4) : ql, _mm_set1_epi8(0x0f));
        const __m128i hi2 = _mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), _mm_set1_epi8(3));
        const __m128i q = _mm_sub_epi8(_mm_or_si128(lo4, _mm_slli_epi16(hi2, 4)), _mm_set1_epi8(32));
        const float d = half_to_float(b + 208);
        const float ds = d * float(int8_t(b[192 + 8 * h + half + 2 * k]));
        out[0] = i8x16_to_f(q, _mm256_set1_ps(ds));
    }
};

// Q4_K (Q5 false) / Q5_K: step c is half c % 2 of sub-block j = (c / 2) % 8
// of block c / 16 (layout in formats.h), as ref's (d * sc) * q - (dmin * m).
template <bool Q5>
struct LoadK {
    static constexpr int kBlock = Q5 ? 176 : 144, kQs = Q5 ? 48 : 16;
    static constexpr int kVecs = 1, kStepBytes = kBlock / 16, kElemBytes = 0;
    static void full(const uint8_t* row, int64_t c, V16* out) {
        const uint8_t* b = row + (c / 16) * kBlock;
        const int j = int(c % 16) / 2, half = int(c % 2), p = j / 2, s = j % 2;
        int sc, m;
        k_scale_min(b + 4, j, sc, m);
        const __m256 d1 = _mm256_set1_ps(half_to_float(b) * float(sc));
        const __m256 m1 = _mm256_set1_ps(half_to_float(b + 2) * float(m));
        __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kQs + 32 * p + 16 * half));
        q = _mm_and_si128(s ? _mm_srli_epi16(q, 4) : q, _mm_set1_epi8(0x0f));
        if constexpr (Q5) {
            const __m128i qh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 + 16 * half));
            const __m128i bit = _mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(j)), _mm_set1_epi8(1));
            q = _mm_or_si128(q, _mm_slli_epi16(bit, 4));
        }
        out[0] = {_mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q))), m1),
                  _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q, 8)))), m1)};
    }
};
using LoadQ4_K = LoadK<false>;
using LoadQ5_K = LoadK<true>;

}  // namespace

#include "kernels/x86/float_kernel.inc"

namespace {

template <class L>
void matmul(const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n, int64_t x_stride, float* y,
            int64_t y_stride, int64_t row_begin, int64_t row_end, int64_t ahead) {
    if (n == 1) {
        // Decode: 4 long sequential streams, one per quarter of the range.
        const int64_t q = (row_end - row_begin) / 4;
        for (int64_t i = 0; i < q; ++i) tile<L, 4, 1>(w, row_bytes, cols, x, x_stride, y, y_stride, row_begin + i, q);
        for (int64_t r = row_begin + 4 * q; r < row_end; ++r) tile<L, 1, 1>(w, row_bytes, cols, x, x_stride, y, y_stride, r);
        return;
    }
    for (int64_t t0 = 0; t0 < n; t0 += 2) {
        const float* xt = x + t0 * x_stride;
        float* yt = y + t0 * y_stride;
        const int64_t next = t0 + 2 >= n ? ahead : 0;  // the last of several groups
        int64_t r = row_begin;
        if (n - t0 >= 2) {
            for (; r + 2 <= row_end; r += 2) tile<L, 2, 2>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r, 1, next);
            for (; r < row_end; ++r) tile<L, 1, 2>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
        } else {
            for (; r + 4 <= row_end; r += 4) tile<L, 4, 1>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r, 1, next);
            for (; r < row_end; ++r) tile<L, 1, 1>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
        }
    }
}

}  // namespace

}  // namespace tern::kernels::avx2
