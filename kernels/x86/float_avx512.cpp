// Full-precision matmul (F32, F16, BF16, Q8_0, Q6_K weights x f32 activations)
// and row dequantization for AVX-512, bit-exact with ref::float_matmul: one zmm
// holds the 16 lanes of ref.h's summation order (lane j % 16 gets w[j] * x[j],
// MULPS then ADDPS, never FMA), a ragged tail updates only its lanes (masked
// add), and the fold is exactly ref's: lanes i + 8, then + 4, + 2, + 1.
// Dequantization is ref's too: VCVTPH2PS is the exact fp16 -> f32 conversion,
// BF16 is a 16-bit shift, Q8_0 is float(q) * d and Q6_K (d * float(scale)) *
// float(q). (NaN weights are outside the contract: VCVTPH2PS quiets a
// signalling NaN, the scalar conversion keeps it as is.)
//
// Speed: decode (n = 1) reads at memory speed with 4 rows in flight (4
// independent add chains); more tokens reuse each dequantized weight vector
// for up to 4 tokens.
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
// Rows of Q8_0 / Q6_K are whole blocks; only the plain types have tails.
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

#ifndef TERN_FLOAT_PREFETCH
#define TERN_FLOAT_PREFETCH 1024
#endif
#ifndef TERN_FLOAT_STREAMS
#define TERN_FLOAT_STREAMS 4
#endif
constexpr int64_t kPrefetch = TERN_FLOAT_PREFETCH;  // bytes ahead along each row stream
constexpr int kStreams = TERN_FLOAT_STREAMS;        // rows in flight when decoding (n = 1)

// ref.h's fold: lanes i + 8, i + 4, i + 2, i + 1.
inline float fold16(__m512 v) {
    const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

// RR rows (r0 + r * rstep) x TT tokens over the whole row.
template <class L, int RR, int TT>
void tile(const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t x_stride, float* y,
          int64_t y_stride, int64_t r0, int64_t rstep = 1) {
    __m512 acc[RR][TT];
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 4
        for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
    constexpr int NV = L::kVecs;
    const int64_t steps = cols / (16 * NV), full = steps * NV;
    for (int64_t c = 0; c < steps; ++c) {
        __m512 xv[TT][NV];
#pragma GCC unroll 4
        for (int t = 0; t < TT; ++t)
#pragma GCC unroll 2
            for (int u = 0; u < NV; ++u) xv[t][u] = _mm512_loadu_ps(x + t * x_stride + 16 * (c * NV + u));
#pragma GCC unroll 4
        for (int r = 0; r < RR; ++r) {
            const uint8_t* row = w + (r0 + r * rstep) * row_bytes;
            _mm_prefetch(reinterpret_cast<const char*>(row + c * L::kStepBytes + kPrefetch), _MM_HINT_T0);
            __m512 wv[NV];
            L::full(row, c, wv);
#pragma GCC unroll 4
            for (int t = 0; t < TT; ++t)
#pragma GCC unroll 2
                for (int u = 0; u < NV; ++u) acc[r][t] = _mm512_add_ps(acc[r][t], _mm512_mul_ps(wv[u], xv[t][u]));
        }
    }
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
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 4
        for (int t = 0; t < TT; ++t) y[t * y_stride + r0 + r * rstep] = fold16(acc[r][t]);
}

template <class L>
void matmul(const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n, int64_t x_stride, float* y,
            int64_t y_stride, int64_t row_begin, int64_t row_end) {
    constexpr int kT = 4;
    for (int64_t t0 = 0; t0 < n; t0 += kT) {
        const int64_t tt = n - t0 < kT ? n - t0 : kT;
        const float* xt = x + t0 * x_stride;
        float* yt = y + t0 * y_stride;
        int64_t r = row_begin;
        switch (tt) {
            case 1: {
                // Decode: kStreams long sequential streams, each over its share of the range.
                const int64_t q = (row_end - row_begin) / kStreams;
                for (int64_t i = 0; i < q; ++i)
                    tile<L, kStreams, 1>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r + i, q);
                for (r += kStreams * q; r < row_end; ++r) tile<L, 1, 1>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                break;
            }
            case 2:
                for (; r + 4 <= row_end; r += 4) tile<L, 4, 2>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                for (; r < row_end; ++r) tile<L, 1, 2>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                break;
            case 3:
                for (; r + 4 <= row_end; r += 4) tile<L, 4, 3>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                for (; r < row_end; ++r) tile<L, 1, 3>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                break;
            default:
                for (; r + 4 <= row_end; r += 4) tile<L, 4, 4>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                for (; r < row_end; ++r) tile<L, 1, 4>(w, row_bytes, cols, xt, x_stride, yt, y_stride, r);
                break;
        }
    }
}

template <class L>
void dequant(const uint8_t* src, float* dst, int64_t cols) {
    constexpr int NV = L::kVecs;
    const int64_t steps = cols / (16 * NV), full = steps * NV;
    for (int64_t c = 0; c < steps; ++c) {
        __m512 v[NV];
        L::full(src, c, v);
        for (int u = 0; u < NV; ++u) _mm512_storeu_ps(dst + 16 * (c * NV + u), v[u]);
    }
    if (cols % 16) {
        const __mmask16 k = __mmask16((1u << (cols % 16)) - 1);
        _mm512_mask_storeu_ps(dst + 16 * full, k, L::part(src, full, k));
    }
}

}  // namespace

void float_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n,
                  int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
    switch (type) {
        case GgmlType::F32: return matmul<LoadF32>(w, row_bytes, cols, x, n, x_stride, y, y_stride, row_begin, row_end);
        case GgmlType::F16: return matmul<LoadF16>(w, row_bytes, cols, x, n, x_stride, y, y_stride, row_begin, row_end);
        case GgmlType::BF16: return matmul<LoadBF16>(w, row_bytes, cols, x, n, x_stride, y, y_stride, row_begin, row_end);
        case GgmlType::Q8_0:
            if (cols % 32) break;
            return matmul<LoadQ8_0>(w, row_bytes, cols, x, n, x_stride, y, y_stride, row_begin, row_end);
        case GgmlType::Q6_K:
            if (cols % 256) break;
            return matmul<LoadQ6_K>(w, row_bytes, cols, x, n, x_stride, y, y_stride, row_begin, row_end);
        default:
            break;
    }
    // Unsupported types and ragged block rows: the reference says why (it throws).
    x86::float_matmul_fallback(type, w, row_bytes, cols, x, n, x_stride, y, y_stride, row_begin, row_end);
}

void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t cols) {
    switch (type) {
        case GgmlType::F32: return dequant<LoadF32>(src, dst, cols);
        case GgmlType::F16: return dequant<LoadF16>(src, dst, cols);
        case GgmlType::BF16: return dequant<LoadBF16>(src, dst, cols);
        case GgmlType::Q8_0:
            if (cols % 32) break;
            return dequant<LoadQ8_0>(src, dst, cols);
        case GgmlType::Q6_K:
            if (cols % 256) break;
            return dequant<LoadQ6_K>(src, dst, cols);
        default:
            break;
    }
    x86::dequantize_row_fallback(type, src, dst, cols);
}

}  // namespace tern::kernels::avx512
