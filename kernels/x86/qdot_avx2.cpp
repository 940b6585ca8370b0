// Quantized output matrices x int16 activations for AVX2. Loop nest:
// qdot_kernel.inc. qdot_avxvnni.cpp is this file with the VEX vpdpwssd.
//
// A chunk of 32 elements is two ymm of int16 in the order the in-lane byte
// unpacks (vpunpck[lh]bw) give: elements 0-7 and 16-23 in the first, 8-15
// and 24-31 in the second. Widening in place costs two shuffles where
// vpmovsxbw / vpmovzxbw across the 128-bit lanes costs three, and one scale
// vector serves both halves of a Q6_K step (its scales change at element 16).
// The activations are put in that order once per call (V::arrange), so
// pmaddwd still pairs elements 2i and 2i + 1: ref.h's lane i, exact. The
// lanes then sit in the two ymm as 0-3, 8-11 and 4-7, 12-15; fold() adds them
// in ref's order all the same.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "kernels/x86/x86.h"

#ifndef TERN_QDOT_NAMESPACE
#define TERN_QDOT_NAMESPACE avx2
#endif

namespace tern::kernels::TERN_QDOT_NAMESPACE {

namespace {

struct Pair {
    __m256i a, b;
};
struct FPair {
    __m256 a, b;
};

struct V {
    using ivec = Pair;
    using fvec = FPair;
    using w32 = Pair;
    // 16 ymm: no room for a wide tile, nor for 4 streams of 2 tokens.
    static constexpr int kStreams = 4, kRows = 2, kTokens = 2, kWide = 0, kStreamTokens = 1;
    // From 2 tokens on (Q8_0: 3), rows are decoded once (qdot_kernel.inc's
    // expanded()), then 4 tokens at a time: 8 int32 sums in registers, the
    // float sums (touched once a block) wherever the compiler puts them. At 2
    // tokens the 2 x 2 tile took twice the one-token time on Q6_K.
    static constexpr int kExpandTokens = 4, kExpandMinTokens = 2;
    static constexpr int64_t kPrefetch = 768;
    static ivec izero() { return {_mm256_setzero_si256(), _mm256_setzero_si256()}; }
    static fvec fzero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
    static w32 load_a(const int16_t* p) {
        const __m256i* q = reinterpret_cast<const __m256i*>(p);
        return {_mm256_loadu_si256(q), _mm256_loadu_si256(q + 1)};
    }
    static void store_w(int16_t* p, w32 w) {
        __m256i* q = reinterpret_cast<__m256i*>(p);
        _mm256_storeu_si256(q, w.a);
        _mm256_storeu_si256(q + 1, w.b);
    }
    static __m256i dot(__m256i acc, __m256i w, __m256i a) {
#ifdef TERN_QDOT_DPWSSD
        return _mm256_dpwssd_avx_epi32(acc, w, a);
#else
        return _mm256_add_epi32(acc, _mm256_madd_epi16(w, a));
#endif
    }
    static ivec madd(ivec acc, w32 w, w32 a) { return {dot(acc.a, w.a, a.a), dot(acc.b, w.b, a.b)}; }
    // madd with the activations read from p, added in place. As intrinsics,
    // GCC kept all eight products of a block apart (spilled) and summed them
    // after; the asm keeps one add chain per accumulator.
    static ivec madd_at(ivec acc, w32 w, const int16_t* p) {
#ifdef TERN_QDOT_DPWSSD
        return madd(acc, w, load_a(p));
#else
        const __m256i* q = reinterpret_cast<const __m256i*>(p);
        __m256i t;
        __asm__("vpmaddwd %[a], %[w], %[t]\n\tvpaddd %[t], %[acc], %[acc]"
                : [acc] "+x"(acc.a), [t] "=&x"(t)
                : [w] "x"(w.a), [a] "m"(q[0]));
        __asm__("vpmaddwd %[a], %[w], %[t]\n\tvpaddd %[t], %[acc], %[acc]"
                : [acc] "+x"(acc.b), [t] "=&x"(t)
                : [w] "x"(w.b), [a] "m"(q[1]));
        return acc;
#endif
    }
    static fvec scale_add(fvec acc, ivec lanes, float d) {
        const __m256 dv = _mm256_set1_ps(d);
        return {_mm256_add_ps(acc.a, _mm256_mul_ps(_mm256_cvtepi32_ps(lanes.a), dv)),
                _mm256_add_ps(acc.b, _mm256_mul_ps(_mm256_cvtepi32_ps(lanes.b), dv))};
    }
    // ref.h's fold: lanes i + 8 (0-3 in v.a, 4-7 in v.b), i + 4, i + 2, i + 1.
    static float fold(fvec v) {
        const __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v.a), _mm256_extractf128_ps(v.a, 1));
        const __m128 hi = _mm_add_ps(_mm256_castps256_ps128(v.b), _mm256_extractf128_ps(v.b, 1));
        const __m128 b = _mm_add_ps(lo, hi);
        const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
        return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
    }
    // A copy of the n prepared rows with each chunk's activations in the
    // decoders' order (0-7, 16-23, 8-15, 24-31); cols % 32 == 0.
    static const uint8_t* arrange(const uint8_t* prep, int64_t n, int64_t cols) {
        static thread_local std::vector<uint8_t> buf;
        const int64_t stride = qdot_prepared_bytes(cols);
        if (buf.size() < size_t(n * stride)) buf.resize(size_t(n * stride));
        std::memcpy(buf.data(), prep, size_t(n * stride));
        for (int64_t t = 0; t < n; ++t) {
            __m256i* a = reinterpret_cast<__m256i*>(buf.data() + t * stride + kQdotHeader);
            for (int64_t j = 0; j < cols / 16; j += 2) {
                const __m256i x = _mm256_loadu_si256(a + j), y = _mm256_loadu_si256(a + j + 1);
                _mm256_storeu_si256(a + j, _mm256_permute2x128_si256(x, y, 0x20));
                _mm256_storeu_si256(a + j + 1, _mm256_permute2x128_si256(x, y, 0x31));
            }
        }
        return buf.data();
    }
};

inline float half_to_float(const uint8_t* p) {
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// 32 signed (unsigned) bytes as int16 in the chunk order above.
inline Pair widen(__m256i bytes) {
    return {_mm256_srai_epi16(_mm256_unpacklo_epi8(bytes, bytes), 8),
            _mm256_srai_epi16(_mm256_unpackhi_epi8(bytes, bytes), 8)};
}
inline Pair widen_u(__m256i bytes) {
    return {_mm256_unpacklo_epi8(bytes, _mm256_setzero_si256()), _mm256_unpackhi_epi8(bytes, _mm256_setzero_si256())};
}

struct LoadQ8_0 {
    static constexpr int kElems = 32, kBytes = 34, kSteps = 1, kChunks = 1;
    static constexpr bool kMins = false;
    static void step(const uint8_t* b, int, Pair* out) {
        out[0] = widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)));
    }
    static float scale(const uint8_t* b) { return half_to_float(b); }
};

struct LoadQ6_K {
    static constexpr int kElems = 256, kBytes = 210, kSteps = 8, kChunks = 1;
    static constexpr bool kMins = false;
    // Step s = 4h + k: elements 128h + 32k + l, l < 32 (SPEC §5): the low
    // nibble of ql[64h + 32(k & 1) + l] (high nibble for k >= 2), bits 2k, 2k + 1
    // of qh[32h + l]; q = (lo4 | hi2 << 4) - 32 widened, times
    // scales[8h + 2k] (l < 16) or scales[8h + 2k + 1]: words 2s and 2s + 1
    // of the block's 16 scales, the first on the low 128-bit lane of the
    // scale vector (elements 0-15), the second on the high one.
    static void step(const uint8_t* b, int s, Pair* out) {
        const int h = s / 4, k = s % 4;
        const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + 32 * (k & 1)));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
        const __m256i lo4 = _mm256_and_si256(k >= 2 ? _mm256_srli_epi16(ql, 4) : ql, _mm256_set1_epi8(0x0f));
        // bits 2k, 2k + 1 of each qh byte moved to bits 4, 5
        const __m256i hi2 = _mm256_and_si256(
            k < 2 ? _mm256_slli_epi16(qh, 4 - 2 * k) : _mm256_srli_epi16(qh, 2 * k - 4), _mm256_set1_epi8(0x30));
        const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo4, hi2), _mm256_set1_epi8(32));
        // (q - 32) * 256 (the byte unpacked as a word's high byte) times
        // scale * 256, high half (vpmulhw): exactly (q - 32) * scale, the
        // product being a multiple of 65536 — which saves widen()'s shifts.
        // scale * 256 is one vpshufb from the block's 16 scale bytes (in both
        // 128-bit lanes): a zero byte, then scale 2s (low lane) or 2s + 1.
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
        const char z8 = char(0x80), lo = char(2 * s), hi = char(2 * s + 1);
        const __m256i sv = _mm256_shuffle_epi8(scales, _mm256_setr_epi8(z8, lo, z8, lo, z8, lo, z8, lo, z8, lo, z8, lo, z8, lo, z8, lo,
                                                                         z8, hi, z8, hi, z8, hi, z8, hi, z8, hi, z8, hi, z8, hi, z8, hi));
        const __m256i z = _mm256_setzero_si256();
        out[0] = {_mm256_mulhi_epi16(_mm256_unpacklo_epi8(z, q), sv), _mm256_mulhi_epi16(_mm256_unpackhi_epi8(z, q), sv)};
    }
    static float scale(const uint8_t* b) { return half_to_float(b + 208); }
};

// Q4_K (Q5 false) / Q5_K. Step j: sub-block j, elements 32j + l: the low
// (j even) or high nibbles of qs[32(j / 2) + l], and in Q5_K bit j of qh[l]
// as the fifth bit; widened unsigned, times the sub-block's scale.
template <bool Q5>
struct LoadK {
    static constexpr int kElems = 256, kBytes = Q5 ? 176 : 144, kSteps = 8, kChunks = 1;
    static constexpr bool kMins = true;
    static constexpr int kQs = Q5 ? 48 : 16;
    static void step(const uint8_t* b, int j, Pair* out) {
        __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kQs + 32 * (j / 2)));
        q = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0f));
        if constexpr (Q5) {  // bit j of qh moved to bit 4
            const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
            const __m256i at4 = j < 4 ? _mm256_slli_epi16(qh, 4 - j) : j > 4 ? _mm256_srli_epi16(qh, j - 4) : qh;
            q = _mm256_or_si256(q, _mm256_and_si256(at4, _mm256_set1_epi8(0x10)));
        }
        // The block's 8 scales (formats.h; the same for every step of a block,
        // so computed once) and sub-block j's as every word: one vpshufb.
        uint64_t sc, m;
        k_scales_mins(b + 4, &sc, &m);
        const char z8 = char(0x80), jj = char(j);
        const __m256i scv = _mm256_shuffle_epi8(_mm256_set1_epi64x(int64_t(sc)),
                                                _mm256_setr_epi8(jj, z8, jj, z8, jj, z8, jj, z8, jj, z8, jj, z8, jj, z8, jj, z8,
                                                                 jj, z8, jj, z8, jj, z8, jj, z8, jj, z8, jj, z8, jj, z8, jj, z8));
        const Pair w = widen_u(q);
        out[0] = {_mm256_mullo_epi16(w.a, scv), _mm256_mullo_epi16(w.b, scv)};
    }
    static float scale(const uint8_t* b) { return half_to_float(b); }
    static constexpr int kDminOffset = 2;
    static float min_scale(const uint8_t* b) { return half_to_float(b + kDminOffset); }
};
using LoadQ4_K = LoadK<false>;
using LoadQ5_K = LoadK<true>;

}  // namespace

#include "kernels/x86/qdot_kernel.inc"

}  // namespace tern::kernels::TERN_QDOT_NAMESPACE
