// File formats <-> canonical TernaryMatrix (SPEC §5), float -> ternary (SPEC §3),
// and ggml's Q8_0 row quantizer. See ternary_formats.h for the contract.
#include "kernels/ternary_formats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "tern/error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tern::kernels {

namespace {

// rows * cols, refusing negative or overflowing shapes before any size math.
int64_t checked_count(const char* what, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0 || (cols > 0 && rows > std::numeric_limits<int64_t>::max() / 4 / cols))
        throw Error(std::string(what) + ": bad tensor shape " + std::to_string(rows) + " x " + std::to_string(cols));
    return rows * cols;
}

void need_bytes(const char* what, const uint8_t* data, uint64_t have, uint64_t need, int64_t rows, int64_t cols) {
    if (have < need)
        throw Error(std::string(what) + " tensor " + std::to_string(rows) + " x " + std::to_string(cols) + " needs " +
                    std::to_string(need) + " bytes but only " + std::to_string(have) +
                    " are there: the file is truncated or the tensor's shape or type is wrong");
    if (need > 0 && !data) throw Error(std::string(what) + ": no data");
}

std::string at(int64_t r, int64_t c) { return "row " + std::to_string(r) + ", column " + std::to_string(c); }

// Canonical code (0, 1, 2) of element (r, c).
inline uint32_t code_at(const TernaryMatrix& m, int64_t r, int64_t c) {
    return (m.row(r)[c / 4] >> (2 * (c % 4))) & 3u;
}

inline void put_code(TernaryMatrix& m, int64_t r, int64_t c, uint32_t code) {
    uint8_t& b = m.row(r)[c / 4];
    const int sh = 2 * int(c % 4);
    b = uint8_t((b & ~(3u << sh)) | (code << sh));
}

// Every code of a matrix must be 0, 1 or 2 before we write it to a file.
void check_codes(const char* what, const TernaryMatrix& m) {
    for (int64_t r = 0; r < m.rows; ++r)
        for (int64_t c = 0; c < m.cols; ++c)
            if (code_at(m, r, c) == 3)
                throw Error(std::string(what) + ": ternary matrix holds invalid code 3 at " + at(r, c));
}

// ---------------------------------------------------------------- TQ common

constexpr int64_t kQK = 256;  // elements per TQ block

// The one scale of a TQ tensor from its per-block fp16 d (see the header for
// the rules). `d_at(i)` returns block i's raw fp16.
template <class DAt>
float common_block_scale(const char* what, int64_t n_blocks, int64_t blocks_per_row, DAt d_at) {
    float ref = 0.0f;
    int64_t ref_block = -1;
    for (int64_t i = 0; i < n_blocks; ++i) {
        const float d = fp16_to_f32(d_at(i));
        if (!std::isfinite(d))
            throw Error(std::string(what) + ": block " + std::to_string(i) + " (row " +
                        std::to_string(i / blocks_per_row) + ") has a non-finite scale");
        const float a = std::fabs(d);
        if (a == 0.0f) continue;
        if (ref_block < 0) {
            ref = a;
            ref_block = i;
        } else if (std::fabs(a - ref) > ref * 0x1p-10f) {
            throw Error(std::string(what) + ": blocks " + std::to_string(ref_block) + " and " + std::to_string(i) +
                        " have different scales (" + std::to_string(ref) + " vs " + std::to_string(a) +
                        "); tern needs one scale per tensor (BitNet b1.58), this tensor has per-block scales");
        }
    }
    return ref;
}

// Canonical code of block value v in {0,1,2} for a block with scale d: a
// negative d flips the sign of the weight.
inline uint32_t signed_code(uint32_t v, float d) { return d < 0.0f ? 2u - v : v; }

// fp16 d written for a block: fp16(|scale|) if the block has a nonzero weight
// (and the scale is nonzero), else 0 - what ggml's amax-based quantizer writes.
struct BlockScale {
    uint16_t d;
    bool flip;  // scale < 0: ggml's amax is |scale|, so the stored signs flip
};

BlockScale block_scale(const TernaryMatrix& m, int64_t r, int64_t c0) {
    bool any = false;
    for (int64_t c = c0; c < c0 + kQK && !any; ++c) any = code_at(m, r, c) != 1;
    if (!any || m.scale == 0.0f) return {0, false};
    return {f32_to_fp16(std::fabs(m.scale)), m.scale < 0.0f};
}

// Code written to a file for element (r, c): 1 (zero) in a d == 0 block.
inline uint32_t file_code(const TernaryMatrix& m, const BlockScale& bs, int64_t r, int64_t c) {
    if (bs.d == 0) return 1;
    const uint32_t v = code_at(m, r, c);
    return bs.flip ? 2u - v : v;
}

void check_tq_shape(const char* what, int64_t rows, int64_t cols) {
    checked_count(what, rows, cols);
    if (cols % kQK != 0)
        throw Error(std::string(what) + ": row length " + std::to_string(cols) +
                    " is not a multiple of 256, which the format requires");
}

// TQ1_0 packs trits base 3 into a byte as ceil(v * 256 / 243) so that trit n
// is recovered with a multiply and a shift: ((uint8_t)(b * 3^n) * 3) >> 8.
constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};

inline uint32_t tq1_trit(uint8_t b, int n) {
    const uint8_t t = uint8_t(b * kPow3[n]);  // mod 256 on purpose
    return (uint32_t(t) * 3) >> 8;
}

inline uint8_t tq1_pack(uint32_t v) { return uint8_t((v * 256 + 242) / 243); }

// Block-local element index of each TQ1_0 trit, in the order ggml stores them:
// qs[m] (m < 32) holds elements n*32 + m; qs[32 + m] (m < 16) holds
// 160 + n*16 + m (n < 5, n = 0 the most significant trit); qh[j] holds
// 240 + n*4 + j (n < 4), its fifth (least significant) trit always 0.
inline int tq1_qs_elem(int byte, int n) { return byte < 32 ? n * 32 + byte : 160 + n * 16 + (byte - 32); }
inline int tq1_qh_elem(int j, int n) { return 240 + n * 4 + j; }

// n_blocks consecutive I2_S blocks (32 bytes, 128 elements each) -> as many
// canonical bytes: canonical byte 8g + k of a block holds its elements
// 4(8g + k) .. +3, which are group g of the four source bytes 4k .. 4k+3, so a
// shift and mask gives the four codes, one per byte, and folding the bytes
// packs them. Returns whether some code was 3 (invalid). The SSE2 path
// (x86-64's baseline) does 16 bytes at once: 7x the scalar loop's speed.
bool decode_i2s_blocks(const uint8_t* data, int64_t n_blocks, uint8_t* out) {
#if defined(__SSE2__)
    const __m128i three = _mm_set1_epi8(3), low_byte = _mm_set1_epi32(0xff);
    __m128i bad = _mm_setzero_si128();
    // Four 2-bit codes in the low bits of a 32-bit lane's bytes -> one byte.
    auto fold = [&](__m128i v) {
        const __m128i f = _mm_or_si128(_mm_or_si128(v, _mm_srli_epi32(v, 6)),
                                       _mm_or_si128(_mm_srli_epi32(v, 12), _mm_srli_epi32(v, 18)));
        return _mm_and_si128(f, low_byte);
    };
    for (int64_t b = 0; b < n_blocks; ++b) {
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + b * 32));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + b * 32 + 16));
        __m128i groups[4];  // group g: canonical bytes 8g .. 8g+7 as 16-bit lanes
        for (int g = 0; g < 4; ++g) {
            const __m128i vl = _mm_and_si128(_mm_srli_epi16(lo, 6 - 2 * g), three);
            const __m128i vh = _mm_and_si128(_mm_srli_epi16(hi, 6 - 2 * g), three);
            // Code 3: both bits set (the shift across bytes brings in zeros at bit 7).
            bad = _mm_or_si128(bad, _mm_or_si128(_mm_and_si128(vl, _mm_srli_epi16(vl, 1)),
                                                 _mm_and_si128(vh, _mm_srli_epi16(vh, 1))));
            groups[g] = _mm_packs_epi32(fold(vl), fold(vh));
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + b * 32), _mm_packus_epi16(groups[0], groups[1]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + b * 32 + 16), _mm_packus_epi16(groups[2], groups[3]));
    }
    return _mm_movemask_epi8(_mm_cmpeq_epi8(bad, _mm_setzero_si128())) != 0xffff;
#else
    uint32_t bad = 0;
    for (int64_t b = 0; b < n_blocks; ++b) {
        uint32_t x[8];
        std::memcpy(x, data + b * 32, 32);
        for (int g = 0; g < 4; ++g)
            for (int k = 0; k < 8; ++k) {
                const uint32_t v = (x[k] >> (6 - 2 * g)) & 0x03030303u;
                bad |= v & (v >> 1);
                out[b * 32 + 8 * g + k] = uint8_t(v | (v >> 6) | (v >> 12) | (v >> 18));
            }
    }
    return (bad & 0x01010101u) != 0;
#endif
}

}  // namespace

// ---------------------------------------------------------------- I2_S

float i2s_scale(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols) {
    const int64_t n = checked_count("I2_S", rows, cols);
    if (n % kI2SBlockElems != 0)
        throw Error("I2_S tensor " + std::to_string(rows) + " x " + std::to_string(cols) + " has " +
                    std::to_string(n) + " elements, not a multiple of 128 as the format requires");
    need_bytes("I2_S", data, n_bytes, uint64_t(n / 4) + 4, rows, cols);
    float scale;
    std::memcpy(&scale, data + n / 4, 4);  // little-endian f32 right after the codes
    if (!std::isfinite(scale))
        throw Error("I2_S tensor " + std::to_string(rows) + " x " + std::to_string(cols) +
                    " has a non-finite scale after its codes");
    return scale;
}

void decode_i2s_into(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols, TernaryMatrix& m) {
    const float scale = i2s_scale(data, n_bytes, rows, cols);
    const int64_t n = rows * cols;

    // The fast path below writes every byte of every row itself.
    m.reset(rows, cols, scale, /*fill=*/cols % kI2SBlockElems != 0);
    // Flat element f lives in byte (f / 128) * 32 + f % 32, bits 7-2g .. 6-2g
    // with g = (f / 32) % 4 (SPEC §5). Build each canonical byte from 4 codes;
    // note code 3 in `bad` and find it only if needed, to keep the loop tight.
    uint32_t bad = 0;
    if (cols % kI2SBlockElems == 0) {
        // Rows start on a block: a row is its blocks' canonical bytes in
        // order (decode_i2s_blocks), followed by its padding (code 1 already).
        const int64_t blocks = cols / kI2SBlockElems;
        for (int64_t r = 0; r < rows; ++r) {
            if (decode_i2s_blocks(data + r * blocks * 32, blocks, m.row(r))) bad = 1;
            std::memset(m.row(r) + blocks * 32, 0x55, size_t((m.padded_cols - cols) / 4));
        }
    } else {
        for (int64_t r = 0; r < rows; ++r) {
            uint8_t* out = m.row(r);
            const int64_t base = r * cols;
            for (int64_t c = 0; c < cols; c += 4) {
                uint32_t byte = 0x55;  // padding beyond cols stays code 1
                for (int64_t e = 0; e < 4 && c + e < cols; ++e) {
                    const int64_t f = base + c + e;
                    const uint32_t code = (data[(f >> 7) * 32 + (f & 31)] >> (6 - 2 * ((f >> 5) & 3))) & 3u;
                    bad |= code == 3;
                    byte = (byte & ~(3u << (2 * e))) | (code << (2 * e));
                }
                out[c / 4] = uint8_t(byte);
            }
        }
    }
    if (bad) {
        for (int64_t f = 0; f < n; ++f)
            if (((data[(f >> 7) * 32 + (f & 31)] >> (6 - 2 * ((f >> 5) & 3))) & 3u) == 3)
                throw Error("I2_S tensor " + std::to_string(rows) + " x " + std::to_string(cols) +
                            ": invalid code 3 at flat element " + std::to_string(f) + " (" + at(f / cols, f % cols) +
                            "); only 0, 1, 2 encode -1, 0, +1");
    }
}

TernaryMatrix decode_i2s(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols) {
    TernaryMatrix m;
    decode_i2s_into(data, n_bytes, rows, cols, m);
    return m;
}

std::vector<uint8_t> encode_i2s(const TernaryMatrix& m) {
    const int64_t n = checked_count("I2_S", m.rows, m.cols);
    if (n % kI2SBlockElems != 0)
        throw Error("I2_S cannot store a " + std::to_string(m.rows) + " x " + std::to_string(m.cols) +
                    " matrix: the element count is not a multiple of 128");
    check_codes("I2_S", m);
    std::vector<uint8_t> out(size_t(n / 4 + kI2STrailerBytes), 0);
    for (int64_t r = 0; r < m.rows; ++r)
        for (int64_t c = 0; c < m.cols; ++c) {
            const int64_t f = r * m.cols + c;
            out[size_t((f >> 7) * 32 + (f & 31))] |= uint8_t(code_at(m, r, c) << (6 - 2 * ((f >> 5) & 3)));
        }
    // The scale once; the remaining 28 bytes stay zero (see the header).
    std::memcpy(out.data() + n / 4, &m.scale, 4);
    return out;
}

// ---------------------------------------------------------------- TQ2_0

void decode_tq2_0_into(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols, TernaryMatrix& m) {
    check_tq_shape("TQ2_0", rows, cols);
    const int64_t bpr = cols / kQK, nb = rows * bpr;
    need_bytes("TQ2_0", data, n_bytes, uint64_t(nb) * sizeof(BlockTQ2_0), rows, cols);
    auto block = [&](int64_t i) {
        BlockTQ2_0 b;
        std::memcpy(&b, data + i * int64_t(sizeof(BlockTQ2_0)), sizeof b);
        return b;
    };
    const float scale = common_block_scale("TQ2_0", nb, bpr, [&](int64_t i) { return block(i).d; });

    m.reset(rows, cols, scale);
    for (int64_t i = 0; i < nb; ++i) {
        const BlockTQ2_0 b = block(i);
        const float d = fp16_to_f32(b.d);
        if (d == 0.0f) continue;  // all weights 0, whatever the codes
        const int64_t r = i / bpr, c0 = (i % bpr) * kQK;
        // Element j*4 + l*32 + mm (j in {0, 32}) is bits 2l..2l+1 of qs[j + mm].
        for (int j = 0; j < 64; j += 32)
            for (int l = 0; l < 4; ++l)
                for (int mm = 0; mm < 32; ++mm) {
                    const uint32_t v = (b.qs[j + mm] >> (2 * l)) & 3u;
                    const int64_t c = c0 + j * 4 + l * 32 + mm;
                    if (v == 3)
                        throw Error("TQ2_0 tensor " + std::to_string(rows) + " x " + std::to_string(cols) +
                                    ": code 3 (value 2d, not ternary) at " + at(r, c));
                    put_code(m, r, c, signed_code(v, d));
                }
    }
}

TernaryMatrix decode_tq2_0(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols) {
    TernaryMatrix m;
    decode_tq2_0_into(data, n_bytes, rows, cols, m);
    return m;
}

std::vector<uint8_t> encode_tq2_0(const TernaryMatrix& m) {
    check_tq_shape("TQ2_0", m.rows, m.cols);
    check_codes("TQ2_0", m);
    const int64_t bpr = m.cols / kQK;
    std::vector<uint8_t> out(size_t(m.rows * bpr) * sizeof(BlockTQ2_0));
    for (int64_t r = 0; r < m.rows; ++r)
        for (int64_t k = 0; k < bpr; ++k) {
            const int64_t c0 = k * kQK;
            const BlockScale bs = block_scale(m, r, c0);
            BlockTQ2_0 b{};
            for (int j = 0; j < 64; j += 32)
                for (int mm = 0; mm < 32; ++mm) {
                    uint32_t q = 0;
                    for (int l = 0; l < 4; ++l) q |= file_code(m, bs, r, c0 + j * 4 + l * 32 + mm) << (2 * l);
                    b.qs[j + mm] = uint8_t(q);
                }
            b.d = bs.d;
            std::memcpy(out.data() + (r * bpr + k) * int64_t(sizeof b), &b, sizeof b);
        }
    return out;
}

// ---------------------------------------------------------------- TQ1_0

void decode_tq1_0_into(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols, TernaryMatrix& m) {
    check_tq_shape("TQ1_0", rows, cols);
    const int64_t bpr = cols / kQK, nb = rows * bpr;
    need_bytes("TQ1_0", data, n_bytes, uint64_t(nb) * sizeof(BlockTQ1_0), rows, cols);
    auto block = [&](int64_t i) {
        BlockTQ1_0 b;
        std::memcpy(&b, data + i * int64_t(sizeof(BlockTQ1_0)), sizeof b);
        return b;
    };
    const float scale = common_block_scale("TQ1_0", nb, bpr, [&](int64_t i) { return block(i).d; });

    m.reset(rows, cols, scale);
    for (int64_t i = 0; i < nb; ++i) {
        const BlockTQ1_0 b = block(i);
        const float d = fp16_to_f32(b.d);
        if (d == 0.0f) continue;
        const int64_t r = i / bpr, c0 = (i % bpr) * kQK;
        // Every byte decodes to trits in 0..2, so TQ1_0 has no invalid codes.
        for (int q = 0; q < 48; ++q)
            for (int n = 0; n < 5; ++n) put_code(m, r, c0 + tq1_qs_elem(q, n), signed_code(tq1_trit(b.qs[q], n), d));
        for (int j = 0; j < 4; ++j)
            for (int n = 0; n < 4; ++n) put_code(m, r, c0 + tq1_qh_elem(j, n), signed_code(tq1_trit(b.qh[j], n), d));
    }
}

TernaryMatrix decode_tq1_0(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols) {
    TernaryMatrix m;
    decode_tq1_0_into(data, n_bytes, rows, cols, m);
    return m;
}

std::vector<uint8_t> encode_tq1_0(const TernaryMatrix& m) {
    check_tq_shape("TQ1_0", m.rows, m.cols);
    check_codes("TQ1_0", m);
    const int64_t bpr = m.cols / kQK;
    std::vector<uint8_t> out(size_t(m.rows * bpr) * sizeof(BlockTQ1_0));
    for (int64_t r = 0; r < m.rows; ++r)
        for (int64_t k = 0; k < bpr; ++k) {
            const int64_t c0 = k * kQK;
            const BlockScale bs = block_scale(m, r, c0);
            BlockTQ1_0 b{};
            for (int q = 0; q < 48; ++q) {
                uint32_t v = 0;
                for (int n = 0; n < 5; ++n) v = v * 3 + file_code(m, bs, r, c0 + tq1_qs_elem(q, n));
                b.qs[q] = tq1_pack(v);
            }
            for (int j = 0; j < 4; ++j) {
                uint32_t v = 0;
                for (int n = 0; n < 4; ++n) v = v * 3 + file_code(m, bs, r, c0 + tq1_qh_elem(j, n));
                b.qh[j] = tq1_pack(v * 3);  // the 4 trits in the top positions
            }
            b.d = bs.d;
            std::memcpy(out.data() + (r * bpr + k) * int64_t(sizeof b), &b, sizeof b);
        }
    return out;
}

// ---------------------------------------------------------------- float linears

TernaryMatrix ternarize_absmean(const float* w, int64_t rows, int64_t cols) {
    const int64_t n = checked_count("absmean ternarization", rows, cols);
    double sum = 0.0;  // double: a float sum over millions of weights drifts
    for (int64_t i = 0; i < n; ++i) sum += std::fabs(double(w[i]));
    if (!std::isfinite(sum)) throw Error("absmean ternarization: the weights hold a NaN or inf");
    const float mean = n ? float(sum / double(n)) : 0.0f;
    const float beta = std::max(mean, 1e-5f);
    TernaryMatrix m(rows, cols, beta);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            // nearbyint: round half to even in the default rounding mode (SPEC §3).
            const float q = std::nearbyint(w[r * cols + c] / beta);
            put_code(m, r, c, q > 0.0f ? 2u : (q < 0.0f ? 0u : 1u));
        }
    return m;
}

TernaryMatrix from_ternary_floats(const float* w, int64_t rows, int64_t cols) {
    const int64_t n = checked_count("ternary float weights", rows, cols);
    float beta = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(w[i])) throw Error("ternary float weights: NaN or inf at flat element " + std::to_string(i));
        beta = std::max(beta, std::fabs(w[i]));
    }
    TernaryMatrix m(rows, cols, beta);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const float v = w[r * cols + c];
            put_code(m, r, c, std::fabs(v) < 1e-6f ? 1u : (v > 0.0f ? 2u : 0u));
        }
    return m;
}

bool looks_ternary(const float* w, int64_t n) {
    float a = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(w[i])) return false;
        a = std::max(a, std::fabs(w[i]));
    }
    // Every nonzero magnitude must be within relative 1e-3 of the largest.
    const float lo = a * (1.0f - 1e-3f);
    for (int64_t i = 0; i < n; ++i) {
        const float v = std::fabs(w[i]);
        if (v >= 1e-6f && v < lo) return false;
    }
    return true;
}

// ---------------------------------------------------------------- Q8_0

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k) {
    if (k < 0 || k % 32 != 0) throw Error("Q8_0: row length " + std::to_string(k) + " is not a multiple of 32");
    for (int64_t i = 0; i < k / 32; ++i) {
        const float* xb = x + i * 32;
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));  // NaN ignored
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < 32; ++j) {
            const float v = std::roundf(xb[j] * id);  // ggml rounds halves away from zero here
            y[i].qs[j] = std::isnan(v) ? int8_t(0) : int8_t(std::clamp(v, -128.0f, 127.0f));
        }
    }
}

// ---------------------------------------------------------------- Q6_K

namespace {

// Round to nearest, ties to even, for |v| <= 2^22, inline: adding and
// subtracting 1.5 * 2^23 leaves v's integer part (IEEE arithmetic, which the
// compiler may not fold without -ffast-math). std::nearbyintf is a libm call
// per element here, which made --output-type q6_k's load 8 s longer.
inline float round_even(float v) {
    constexpr float kMagic = 12582912.0f;
    return (v + kMagic) - kMagic;
}

// The levels tried for a sub-block's largest magnitude (then refitted): four
// give 1.67 % relative RMS error on Gaussian rows, -32 alone 1.77 %.
constexpr float kQ6Levels[] = {-32.0f, -31.0f, 31.0f, 30.0f};

// q = round(x / s) on the 6-bit signed levels -32..31, as a float; 0 for NaN.
// Branch-free selects on floats, so the loops below need no conversions.
inline float q6_level(float x, float inv_s) {
    float v = x * inv_s;
    v = v < -32.0f ? -32.0f : v;
    v = v > 31.0f ? 31.0f : v;
    return round_even(v == v ? v : 0.0f);
}

// The sub-block scale with the smallest squared error among a few candidates.
float q6_sub_scale(const float* x) {
    float amax = 0.0f, xmax = 0.0f;
    for (int i = 0; i < 16; ++i)
        if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), xmax = x[i];
    if (amax == 0.0f) return 0.0f;
    float best = xmax / -32.0f, best_err = INFINITY;
    for (const float level : kQ6Levels) {
        const float s = xmax / level, inv = 1.0f / s;
        float xq = 0, qq = 0;
        for (int i = 0; i < 16; ++i) {
            const float q = q6_level(x[i], inv);
            xq += x[i] * q;
            qq += q * q;
        }
        const float fit = qq > 0 ? xq / qq : s;  // least squares for these levels
        const float inv_fit = 1.0f / fit;
        float err = 0;
        for (int i = 0; i < 16; ++i) {
            const float e = x[i] - fit * q6_level(x[i], inv_fit);
            err += e * e;
        }
        if (err < best_err) best_err = err, best = fit;
    }
    return best;
}

}  // namespace

void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t k) {
    if (k < 0 || k % 256 != 0) throw Error("Q6_K: row length " + std::to_string(k) + " is not a multiple of 256");
    for (int64_t b = 0; b < k / 256; ++b) {
        const float* xb = x + b * 256;
        BlockQ6_K& out = y[b];
        float scale[16], smax = 0.0f;
        for (int j = 0; j < 16; ++j) {
            scale[j] = q6_sub_scale(xb + 16 * j);
            if (std::isfinite(scale[j])) smax = std::max(smax, std::fabs(scale[j]));
            else scale[j] = 0.0f;
        }
        out.d = f32_to_fp16(smax / 127.0f);
        const float d = fp16_to_f32(out.d);
        std::memset(out.ql, 0, sizeof out.ql);
        std::memset(out.qh, 0, sizeof out.qh);
        for (int j = 0; j < 16; ++j) {
            // The int8 scale nearest the chosen one, or a neighbour when that
            // errs less: a coarse scale (a block with an outlier) rounded down
            // would clamp this sub-block's largest elements.
            float sc = 0.0f;
            if (d != 0.0f) {
                const float s0 = round_even(std::clamp(scale[j] / d, -200.0f, 200.0f));
                double best_err = INFINITY;
                for (const float c : {s0, s0 - 1.0f, s0 + 1.0f}) {
                    if (c == 0.0f || c < -127.0f || c > 127.0f) continue;
                    const float inv = 1.0f / (d * c);
                    double err = 0;
                    for (int i = 0; i < 16; ++i) {
                        const double e = double(xb[16 * j + i]) - double(d * c) * double(q6_level(xb[16 * j + i], inv));
                        err += e * e;
                    }
                    if (err < best_err) best_err = err, sc = c;
                }
            }
            out.scales[j] = int8_t(sc);
            const float inv = sc != 0.0f ? 1.0f / (d * sc) : 0.0f;
            for (int i = 0; i < 16; ++i) {
                // Element e = 128h + 32k + l (SPEC §5): low nibble in ql[64h + l + 32(k & 1)]
                // (high half of the byte for k >= 2), high two bits in qh[32h + l] bits 2k.
                const int e = 16 * j + i, h = e / 128, kk = (e % 128) / 32, l = e % 32;
                const int q = int(q6_level(xb[e], inv)) + 32;
                out.ql[64 * h + l + 32 * (kk & 1)] |= uint8_t((q & 0xF) << (kk >= 2 ? 4 : 0));
                out.qh[32 * h + l] |= uint8_t((q >> 4) << (2 * kk));
            }
        }
    }
}

// ---------------------------------------------------------------- Q4_K / Q5_K

namespace {

// Sub-block j's 6-bit scale and min into the 12 packed bytes (k_scale_min's inverse).
void put_scale_min(uint8_t* scales, int j, int sc, int m) {
    if (j < 4) {
        scales[j] = uint8_t((scales[j] & 0xC0) | sc);
        scales[j + 4] = uint8_t((scales[j + 4] & 0xC0) | m);
    } else {
        scales[j + 4] = uint8_t((sc & 0xF) | ((m & 0xF) << 4));
        scales[j - 4] = uint8_t((scales[j - 4] & 0x3F) | ((sc >> 4) << 6));
        scales[j] = uint8_t((scales[j] & 0x3F) | ((m >> 4) << 6));
    }
}

// One block of 256 with `levels` codes (16 or 32): per sub-block of 32 the
// range [-min, max] (min >= 0: zero is always representable) on the codes,
// its scale and min quantized to 6 bits against the fp16 super-block scales,
// then each element rounded against the quantized pair.
template <class B>
void quantize_k_block(const float* x, B& out, int levels) {
    float scale[8], minv[8], smax = 0.0f, mmax = 0.0f;
    for (int j = 0; j < 8; ++j) {
        float lo = 0.0f, hi = 0.0f;
        for (int i = 0; i < 32; ++i) {
            const float v = x[32 * j + i];
            if (!std::isfinite(v)) continue;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        minv[j] = -lo;
        scale[j] = (hi - lo) / float(levels - 1);
        smax = std::max(smax, scale[j]);
        mmax = std::max(mmax, minv[j]);
    }
    std::memset(&out, 0, sizeof out);
    out.d = f32_to_fp16(smax / 63.0f);
    out.dmin = f32_to_fp16(mmax / 63.0f);
    const float d = fp16_to_f32(out.d), dmin = fp16_to_f32(out.dmin);
    for (int j = 0; j < 8; ++j) {
        // The min rounded up (the lowest value must stay reachable), the scale to nearest.
        const int m = dmin > 0.0f ? std::min(63, int(std::ceil(minv[j] / dmin))) : 0;
        const int sc = d > 0.0f ? std::clamp(int(round_even(scale[j] / d)), 0, 63) : 0;
        put_scale_min(out.scales, j, sc, m);
        const float step = d * float(sc), offset = dmin * float(m);
        const float inv = step > 0.0f ? 1.0f / step : 0.0f;
        const int p = j / 2, sh = j % 2;
        for (int i = 0; i < 32; ++i) {
            const float v = x[32 * j + i];
            float q = round_even((std::isfinite(v) ? v + offset : offset) * inv);
            q = std::clamp(q, 0.0f, float(levels - 1));
            const int qi = int(q);
            out.qs[32 * p + i] |= uint8_t((qi & 0xF) << (4 * sh));
            if constexpr (sizeof(B) == sizeof(BlockQ5_K)) out.qh[i] |= uint8_t((qi >> 4) << j);
        }
    }
}

}  // namespace

void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t k) {
    if (k < 0 || k % 256 != 0) throw Error("Q4_K: row length " + std::to_string(k) + " is not a multiple of 256");
    for (int64_t b = 0; b < k / 256; ++b) quantize_k_block(x + b * 256, y[b], 16);
}

void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t k) {
    if (k < 0 || k % 256 != 0) throw Error("Q5_K: row length " + std::to_string(k) + " is not a multiple of 256");
    for (int64_t b = 0; b < k / 256; ++b) quantize_k_block(x + b * 256, y[b], 32);
}

}  // namespace tern::kernels
