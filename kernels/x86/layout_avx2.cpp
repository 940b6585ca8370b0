// Load-time repacking straight from the file's I2_S bytes (AVX2): the same
// bytes as x86::i2s_repack(decode_i2s(...)) in one pass and without the
// canonical matrix in between. Decoding and repacking 2B4T's 210 matrices
// one byte group at a time was a quarter of the load's CPU time.
#include <immintrin.h>

#include <cstring>

#include "kernels/formats.h"
#include "kernels/x86/x86.h"

namespace tern::kernels::avx2 {

namespace {

// Per 128-bit lane: a 4 x 4 byte transpose (dword i, byte j <-> dword j, byte i).
inline __m256i transpose_bytes(__m256i v) {
    const __m256i idx = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,  //
                                         0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm256_shuffle_epi8(v, idx);
}

// Per dword: the 4 x 4 matrix of 2-bit fields transposed (field f of byte b
// <-> field b of byte f), as x86::i2s_repack's transpose_2bit_4x4.
inline __m256i transpose_fields(__m256i x) {
    __m256i t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi32(x, 12), x), _mm256_set1_epi32(0x0000F0F0));
    x = _mm256_xor_si256(x, _mm256_xor_si256(t, _mm256_slli_epi32(t, 12)));
    t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi32(x, 6), x), _mm256_set1_epi32(0x00CC00CC));
    return _mm256_xor_si256(x, _mm256_xor_si256(t, _mm256_slli_epi32(t, 6)));
}

}  // namespace

// One I2_S block of a row (SPEC §5): element 32g' + l (l < 32) sits in byte l,
// bits 6 - 2g'. The packed word of the row's column group kb = 2g' + h (16
// columns) has, in byte kk and bits 2g, column 16h + 4g + kk of that group
// (x86.h). So with byte l = 16h + 4g + kk, lane h of the block's 32 bytes is
// a 4 x 4 x 4 array [g][kk][field 3 - g'], and the packed words of lane h
// are the same array as [3 - field][kk][g]: a byte transpose, a field
// transpose and a byte transpose. Four rows at once, so that each group's
// four rows (adjacent in a tile) are stored as one 16-byte write.
bool i2s_repack_from_i2s(const uint8_t* codes, int64_t rows, int64_t cols, float scale, int tile_rows,
                         PackedTernary& p) {
    constexpr int64_t kBlock = 128;
    if (cols % kBlock != 0 || tile_rows % 4 != 0 || rows < 0) return false;
    const int64_t R = tile_rows, pc = round_up(cols, kTernaryColAlign), tiles = (rows + R - 1) / R;
    const int64_t tile_bytes = R * pc / 4, blocks = cols / kBlock, row_bytes = cols / 4;
    p.rows = rows;
    p.cols = cols;
    p.padded_cols = pc;
    p.scale = scale;
    p.param[0] = R;
    p.param[1] = tiles;
    p.param[2] = tile_bytes;
    p.data = AlignedBuffer(size_t(tiles * tile_bytes), AlignedBuffer::kUninitialized);  // every byte written below
    uint8_t* d = p.data.data();
    const __m256i zero = _mm256_set1_epi8(0x55);  // a block of weight 0 (code 1 in every field)
    __m256i bad = _mm256_setzero_si256();  // bit 2f of a byte: field f was code 3
    for (int64_t t = 0; t < tiles; ++t) {
        uint8_t* tile = d + t * tile_bytes;
        for (int64_t rr = 0; rr < R; rr += 4) {
            const uint8_t* src[4];
            for (int i = 0; i < 4; ++i) {
                const int64_t r = t * R + rr + i;
                src[i] = r < rows ? codes + r * row_bytes : nullptr;  // rows past the matrix: weight 0
            }
            for (int64_t b = 0; b < blocks; ++b) {
                __m256i y[4];
                for (int i = 0; i < 4; ++i) {
                    const __m256i x =
                        src[i] ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[i] + b * 32)) : zero;
                    bad = _mm256_or_si256(bad, _mm256_and_si256(x, _mm256_srli_epi16(x, 1)));
                    y[i] = transpose_bytes(transpose_fields(transpose_bytes(x)));  // lane h: dword 3 - g', byte kk
                }
                // Dword f of the four rows side by side: lane h is group 2(3 - f) + h.
                const __m256i a = _mm256_unpacklo_epi32(y[0], y[1]), c = _mm256_unpackhi_epi32(y[0], y[1]);
                const __m256i e = _mm256_unpacklo_epi32(y[2], y[3]), g = _mm256_unpackhi_epi32(y[2], y[3]);
                const __m256i z[4] = {_mm256_unpacklo_epi64(a, e), _mm256_unpackhi_epi64(a, e),
                                      _mm256_unpacklo_epi64(c, g), _mm256_unpackhi_epi64(c, g)};
                for (int f = 0; f < 4; ++f) {
                    uint8_t* out = tile + (8 * b + 2 * (3 - f)) * R * 4 + rr * 4;
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(z[f]));
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + R * 4), _mm256_extracti128_si256(z[f], 1));
                }
            }
        }
        // Columns [cols, pc): weight 0 in every row (0x55 transposes to itself).
        std::memset(tile + (cols / 16) * R * 4, 0x55, size_t((pc - cols) / 16 * R * 4));
    }
    const __m256i hit = _mm256_and_si256(bad, _mm256_set1_epi8(0x55));
    return _mm256_testz_si256(hit, hit) != 0;
}

}  // namespace tern::kernels::avx2
