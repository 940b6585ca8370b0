// TL1 / TL2 lookup-table kernels for armv8-a ASIMD (T-MAC style, SPEC §5):
// building a token's table and looking it up are separate functions, tested
// as two steps. Layouts: neon.h. neon_dotprod uses these as they are.
//
// The table entries are int16 (|TL1| <= 256, |TL2| <= 384) but vqtbl looks up
// bytes, so each table is stored as a low-byte plane and a high-byte plane.
// For 16 rows at once the lookup gives 16 low bytes (unsigned 0..255) and 16
// high bytes (signed: -1..1 for TL1, -2..1 for TL2), entry = lo + 256 * hi.
// The low bytes are summed in uint16 lanes and the high bytes in int8 lanes for
// one block (64 TL1 pairs: lo <= 64*255, |hi| <= 64; 32 TL2 groups: lo <=
// 32*255, |hi| <= 64), then folded into int32: acc += lo + 256 * hi. All of it
// is exact; int32 additions wrap consistently, and the true sums fit.
#include <arm_neon.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <vector>

#include "kernels/ref/ref.h"
#include "kernels/arm/neon.h"

namespace tern::kernels::neon {

namespace {

static_assert(kTernaryColAlign % 256 == 0, "TL1 blocks of 64 pairs need padded_cols % 128 == 0");
constexpr int kTl1BlockPairs = 64;
constexpr int64_t kMaxTilesTogether = 4;  // tiles sharing each table load

// out[0..15] (tile rows) += lo + 256 * hi for one tile's block sums. The int32
// sums live in memory: touched once per block, they would only crowd out the
// registers the inner loop needs.
inline void fold(int32_t* out, uint16x8_t lo_a, uint16x8_t lo_b, int8x16_t hi) {
    const int16x8_t ha = vmovl_s8(vget_low_s8(hi)), hb = vmovl_high_s8(hi);
    uint32x4_t acc[4];
    for (int j = 0; j < 4; ++j) acc[j] = vreinterpretq_u32_s32(vld1q_s32(out + 4 * j));
    acc[0] = vaddw_u16(acc[0], vget_low_u16(lo_a));
    acc[1] = vaddw_high_u16(acc[1], lo_a);
    acc[2] = vaddw_u16(acc[2], vget_low_u16(lo_b));
    acc[3] = vaddw_high_u16(acc[3], lo_b);
    vst1q_s32(out, vmlal_n_s16(vreinterpretq_s32_u32(acc[0]), vget_low_s16(ha), 256));
    vst1q_s32(out + 4, vmlal_high_n_s16(vreinterpretq_s32_u32(acc[1]), ha, 256));
    vst1q_s32(out + 8, vmlal_n_s16(vreinterpretq_s32_u32(acc[2]), vget_low_s16(hb), 256));
    vst1q_s32(out + 12, vmlal_high_n_s16(vreinterpretq_s32_u32(acc[3]), hb, 256));
}

// Entries e[0..15] as int16, to the low plane at lo and the high plane at hi.
inline void store_planes(int16x8_t e0, int16x8_t e1, uint8_t* lo, uint8_t* hi) {
    vst1q_u8(lo, vreinterpretq_u8_s8(vcombine_s8(vmovn_s16(e0), vmovn_s16(e1))));
    vst1q_u8(hi, vreinterpretq_u8_s8(vcombine_s8(vshrn_n_s16(e0, 8), vshrn_n_s16(e1, 8))));
}

// ---------------------------------------------------------------- TL1

// Canonical byte (4 codes, 2 bits each) -> TL1 byte (two pattern indices):
// pair 0 is codes 0, 1 -> 3*c0 + c1 in the low nibble, pair 1 in the high one.
struct Tl1ByteMap {
    uint8_t v[256];
    constexpr Tl1ByteMap() : v() {
        for (int b = 0; b < 256; ++b) {
            const int c0 = b & 3, c1 = (b >> 2) & 3, c2 = (b >> 4) & 3, c3 = b >> 6;
            v[b] = uint8_t(((3 * c0 + c1) & 0xF) | (((3 * c2 + c3) & 0xF) << 4));
        }
    }
};
constexpr Tl1ByteMap kTl1ByteMap;

template <int NT>
void tl1_tiles(const uint8_t* tiles, int64_t tile_bytes, const uint8_t* table, int64_t padded_cols, int32_t* out) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const int64_t pairs = padded_cols / 2;
    std::memset(out, 0, sizeof(int32_t) * 16 * NT);
    for (int64_t p0 = 0; p0 < pairs; p0 += kTl1BlockPairs) {
        uint16x8_t lo_a[NT], lo_b[NT];
        int8x16_t hi[NT];
        for (int tt = 0; tt < NT; ++tt) {
            lo_a[tt] = lo_b[tt] = vdupq_n_u16(0);
            hi[tt] = vdupq_n_s8(0);
        }
        for (int64_t p = p0; p < p0 + kTl1BlockPairs; p += 2) {
            const uint8_t* tb = table + 32 * p;
            const uint8x16_t l0 = vld1q_u8(tb), h0 = vld1q_u8(tb + 16);
            const uint8x16_t l1 = vld1q_u8(tb + 32), h1 = vld1q_u8(tb + 48);
            for (int tt = 0; tt < NT; ++tt) {
                const uint8x16_t ib = vld1q_u8(tiles + tt * tile_bytes + 8 * p);
                const uint8x16_t i0 = vandq_u8(ib, m4), i1 = vshrq_n_u8(ib, 4);
                const uint8x16_t v0 = vqtbl1q_u8(l0, i0), v1 = vqtbl1q_u8(l1, i1);
                lo_a[tt] = vaddw_u8(lo_a[tt], vget_low_u8(v0));
                lo_b[tt] = vaddw_high_u8(lo_b[tt], v0);
                lo_a[tt] = vaddw_u8(lo_a[tt], vget_low_u8(v1));
                lo_b[tt] = vaddw_high_u8(lo_b[tt], v1);
                hi[tt] = vaddq_s8(hi[tt], vreinterpretq_s8_u8(vqtbl1q_u8(h0, i0)));
                hi[tt] = vaddq_s8(hi[tt], vreinterpretq_s8_u8(vqtbl1q_u8(h1, i1)));
            }
        }
        for (int tt = 0; tt < NT; ++tt) fold(out + 16 * tt, lo_a[tt], lo_b[tt], hi[tt]);
    }
}

// ---------------------------------------------------------------- TL2

// The group's sign bit B (of the sign byte) moved to bit 4.
template <int B>
inline uint8x16_t sign_to_bit4(uint8x16_t s) {
    if constexpr (B < 4)
        return vshlq_n_u8(s, 4 - B);
    else if constexpr (B == 4)
        return s;
    else
        return vshrq_n_u8(s, B - 4);
}

struct Tl2Acc {
    uint16x8_t lo_a, lo_b;
    int8x16_t hi;
};

// One group (sign bit B of the sign vector) for one tile: index | sign << 4
// picks the entry or its negative from the 32-byte planes.
template <int B>
inline void tl2_group(Tl2Acc& a, uint8x16_t nibble, uint8x16_t sign, const uint8x16x2_t& lo,
                      const uint8x16x2_t& hi) {
    const uint8x16_t ix = vbslq_u8(vdupq_n_u8(0x10), sign_to_bit4<B>(sign), nibble);
    const uint8x16_t v = vqtbl2q_u8(lo, ix);
    a.lo_a = vaddw_u8(a.lo_a, vget_low_u8(v));
    a.lo_b = vaddw_high_u8(a.lo_b, v);
    a.hi = vaddq_s8(a.hi, vreinterpretq_s8_u8(vqtbl2q_u8(hi, ix)));
}

// One LD1 into two consecutive registers, as TBL wants them (building the
// pair from two loads made GCC 12 bounce it through the stack).
inline uint8x16x2_t load2(const uint8_t* p) { return vld1q_u8_x2(p); }

// Groups 2K and 2K+1 of an 8-group sign octet, for NT tiles.
template <int NT, int K>
inline void tl2_couple(Tl2Acc* acc, const uint8_t* const* blk, const uint8x16_t* sign, int octet,
                       const uint8_t* tb) {
    const uint8x16x2_t lo0 = load2(tb), hi0 = load2(tb + 32);
    const uint8x16x2_t lo1 = load2(tb + 64), hi1 = load2(tb + 96);
    for (int tt = 0; tt < NT; ++tt) {
        const uint8x16_t ib = vld1q_u8(blk[tt] + 16 * (4 * octet + K));
        tl2_group<2 * K>(acc[tt], vandq_u8(ib, vdupq_n_u8(0x0F)), sign[tt], lo0, hi0);
        tl2_group<2 * K + 1>(acc[tt], vshrq_n_u8(ib, 4), sign[tt], lo1, hi1);
    }
}

template <int NT>
void tl2_tiles(const uint8_t* tiles, int64_t tile_bytes, const uint8_t* table, int64_t padded_groups,
               int32_t* out) {
    std::memset(out, 0, sizeof(int32_t) * 16 * NT);
    for (int64_t g0 = 0; g0 < padded_groups; g0 += kTl2GroupBlock) {
        const uint8_t* blk[NT];
        Tl2Acc a[NT];
        for (int tt = 0; tt < NT; ++tt) {
            blk[tt] = tiles + tt * tile_bytes + (g0 / kTl2GroupBlock) * 320;
            a[tt].lo_a = a[tt].lo_b = vdupq_n_u16(0);
            a[tt].hi = vdupq_n_s8(0);
        }
        for (int o = 0; o < 4; ++o) {
            uint8x16_t sign[NT];
            for (int tt = 0; tt < NT; ++tt) sign[tt] = vld1q_u8(blk[tt] + 256 + 16 * o);
            const uint8_t* tb = table + 64 * (g0 + 8 * o);
            tl2_couple<NT, 0>(a, blk, sign, o, tb);
            tl2_couple<NT, 1>(a, blk, sign, o, tb + 128);
            tl2_couple<NT, 2>(a, blk, sign, o, tb + 256);
            tl2_couple<NT, 3>(a, blk, sign, o, tb + 384);
        }
        for (int tt = 0; tt < NT; ++tt) fold(out + 16 * tt, a[tt].lo_a, a[tt].lo_b, a[tt].hi);
    }
}

// The tile driver shared by TL1 and TL2: tiles [row_begin/16, ceil(row_end/16))
// in runs of up to 4, every token per run, only rows in range written.
// Family::tiles<NT>(tiles, tile_bytes, table, size, out) looks NT consecutive
// tiles up in one token's table (`size`: what the family's loop runs over).
template <class Family>
void tl_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t pb, int64_t size, int64_t n, int32_t* y,
               int64_t y_stride, int64_t row_begin, int64_t row_end) {
    if (row_begin >= row_end) return;
    const int64_t tile_bytes = w.param[2];
    const int64_t tile_begin = row_begin / kTlTileRows, tile_end = (row_end + kTlTileRows - 1) / kTlTileRows;
    for (int64_t tb = tile_begin; tb < tile_end; tb += kMaxTilesTogether) {
        const int nt = int(std::min(kMaxTilesTogether, tile_end - tb));
        const uint8_t* tiles = w.data.data() + tb * tile_bytes;
        const int64_t r_lo = std::max(row_begin, tb * kTlTileRows);
        const int64_t r_hi = std::min(row_end, (tb + nt) * kTlTileRows);
        for (int64_t t = 0; t < n; ++t) {
            int32_t out[kMaxTilesTogether * kTlTileRows];
            const uint8_t* table = prepared + t * pb;
            switch (nt) {
                case 1: Family::template tiles<1>(tiles, tile_bytes, table, size, out); break;
                case 2: Family::template tiles<2>(tiles, tile_bytes, table, size, out); break;
                case 3: Family::template tiles<3>(tiles, tile_bytes, table, size, out); break;
                default: Family::template tiles<4>(tiles, tile_bytes, table, size, out); break;
            }
            for (int64_t r = r_lo; r < r_hi; ++r) y[t * y_stride + r] = out[r - tb * kTlTileRows];
        }
    }
}
static_assert(kMaxTilesTogether == 4, "tl_matmul's switch covers 1 to 4 tiles");

struct Tl1 {
    template <int NT>
    static void tiles(const uint8_t* t, int64_t tile_bytes, const uint8_t* table, int64_t padded_cols, int32_t* out) {
        tl1_tiles<NT>(t, tile_bytes, table, padded_cols, out);
    }
};
struct Tl2 {
    template <int NT>
    static void tiles(const uint8_t* t, int64_t tile_bytes, const uint8_t* table, int64_t padded_groups, int32_t* out) {
        tl2_tiles<NT>(t, tile_bytes, table, padded_groups, out);
    }
};

}  // namespace

// ---------------------------------------------------------------- TL1 entry points

PackedTernary tl1_repack(const TernaryMatrix& m) {
    PackedTernary p = ref::packed_header(m);
    const int64_t tiles = (m.rows + kTlTileRows - 1) / kTlTileRows, blocks = m.padded_cols / 4;
    const int64_t tile_bytes = kTlTileRows * blocks;
    p.param[0] = kTlTileRows;
    p.param[1] = tiles;
    p.param[2] = tile_bytes;
    p.data = AlignedBuffer(size_t(tiles * tile_bytes));
    // Rows past the matrix: index 4 = pattern (0, 0) in both nibbles.
    if (p.data.size()) std::memset(p.data.data(), 0x44, p.data.size());
    for (int64_t r = 0; r < m.rows; ++r) {
        const uint8_t* src = m.row(r);
        uint8_t* dst = p.data.data() + (r / kTlTileRows) * tile_bytes + r % kTlTileRows;
        // One canonical byte is exactly one TL1 byte (pairs 2pc, 2pc+1).
        for (int64_t pc = 0; pc < blocks; ++pc) dst[pc * kTlTileRows] = kTl1ByteMap.v[src[pc]];
    }
    return p;
}

int64_t tl1_prepared_bytes(int64_t padded_cols) { return padded_cols / 2 * 32; }

void tl1_build_table(const int8_t* a, int64_t padded_cols, uint8_t* table) {
    // Entry i < 9 is (i/3 - 1) * a0 + (i%3 - 1) * a1; entries 9..15 are 0.
    const int16x8_t w0a = {-1, -1, -1, 0, 0, 0, 1, 1}, w0b = {1, 0, 0, 0, 0, 0, 0, 0};
    const int16x8_t w1a = {-1, 0, 1, -1, 0, 1, -1, 0}, w1b = {1, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t p = 0; p < padded_cols / 2; ++p) {
        const int16_t a0 = a[2 * p], a1 = a[2 * p + 1];
        const int16x8_t e0 = vmlaq_n_s16(vmulq_n_s16(w0a, a0), w1a, a1);
        const int16x8_t e1 = vmlaq_n_s16(vmulq_n_s16(w0b, a0), w1b, a1);
        store_planes(e0, e1, table + 32 * p, table + 32 * p + 16);
    }
}

void tl1_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    const int64_t pb = tl1_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) tl1_build_table(q + t * q_stride, padded_cols, out + t * pb);
}

void tl1_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    assert(w.padded_cols % (2 * kTl1BlockPairs) == 0);
    const int64_t k = w.padded_cols;
    tl_matmul<Tl1>(w, prepared, tl1_prepared_bytes(k), k, n, y, y_stride, row_begin, row_end);
}

void tl1_table_from_ref(const int16_t* ref_table, int64_t padded_cols, uint8_t* out) {
    for (int64_t p = 0; p < padded_cols / 2; ++p)
        for (int i = 0; i < 16; ++i) {
            const int16_t e = i < 9 ? ref_table[p * 9 + i] : int16_t(0);
            out[32 * p + i] = uint8_t(e & 0xFF);
            out[32 * p + 16 + i] = uint8_t((e >> 8) & 0xFF);
        }
}

int16_t tl1_table_entry(const uint8_t* table, int64_t pair, int idx) {
    return int16_t(uint16_t(table[32 * pair + idx] | (table[32 * pair + 16 + idx] << 8)));
}

// ---------------------------------------------------------------- TL2 entry points

int64_t tl2_padded_groups(int64_t padded_cols) { return round_up((padded_cols + 2) / 3, kTl2GroupBlock); }

PackedTernary tl2_repack(const TernaryMatrix& m) {
    PackedTernary p = ref::packed_header(m);
    const int64_t groups = (m.padded_cols + 2) / 3, gp = tl2_padded_groups(m.padded_cols);
    const int64_t tiles = (m.rows + kTlTileRows - 1) / kTlTileRows, tile_bytes = gp / kTl2GroupBlock * 320;
    p.param[0] = kTlTileRows;
    p.param[1] = tiles;
    p.param[2] = tile_bytes;
    p.param[3] = gp;
    p.data = AlignedBuffer(size_t(tiles * tile_bytes));
    // Padding groups and rows keep index 0 / sign 0: their table entries are 0
    // (padding groups) or their outputs are never stored (padding rows).
    std::vector<uint8_t> codes(size_t(groups * 3), 1);  // code 1 = weight 0 past padded_cols
    for (int64_t r = 0; r < m.rows; ++r) {
        const uint8_t* src = m.row(r);
        for (int64_t j = 0; j < m.padded_cols; ++j) codes[size_t(j)] = (src[j / 4] >> (2 * (j % 4))) & 3;
        uint8_t* tile = p.data.data() + (r / kTlTileRows) * tile_bytes;
        const int64_t i = r % kTlTileRows;
        for (int64_t g = 0; g < groups; ++g) {
            const int v = 9 * codes[size_t(3 * g)] + 3 * codes[size_t(3 * g + 1)] + codes[size_t(3 * g + 2)];
            const bool neg = v > 13;
            uint8_t* blk = tile + (g / kTl2GroupBlock) * 320;
            const int64_t gi = g % kTl2GroupBlock;
            blk[16 * (gi / 2) + i] |= uint8_t((neg ? 26 - v : v) << (4 * (gi % 2)));
            blk[256 + 16 * (gi / 8) + i] |= uint8_t(int(neg) << (gi % 8));
        }
    }
    return p;
}

int64_t tl2_prepared_bytes(int64_t padded_cols) { return tl2_padded_groups(padded_cols) * 64; }

void tl2_build_table(const int8_t* a, int64_t padded_cols, uint8_t* table) {
    // Entry v < 14 is (v/9 - 1) * a0 + (v/3%3 - 1) * a1 + (v%3 - 1) * a2; 14, 15 are 0.
    const int16x8_t p0a = {-1, -1, -1, -1, -1, -1, -1, -1}, p0b = {-1, 0, 0, 0, 0, 0, 0, 0};
    const int16x8_t p1a = {-1, -1, -1, 0, 0, 0, 1, 1}, p1b = {1, -1, -1, -1, 0, 0, 0, 0};
    const int16x8_t p2a = {-1, 0, 1, -1, 0, 1, -1, 0}, p2b = {1, -1, 0, 1, -1, 0, 0, 0};
    const int64_t groups = (padded_cols + 2) / 3, gp = tl2_padded_groups(padded_cols);
    for (int64_t g = 0; g < gp; ++g) {
        int16_t ak[3] = {0, 0, 0};
        if (g < groups)
            for (int k = 0; k < 3; ++k) ak[k] = 3 * g + k < padded_cols ? a[3 * g + k] : 0;
        const int16x8_t e0 = vmlaq_n_s16(vmlaq_n_s16(vmulq_n_s16(p0a, ak[0]), p1a, ak[1]), p2a, ak[2]);
        const int16x8_t e1 = vmlaq_n_s16(vmlaq_n_s16(vmulq_n_s16(p0b, ak[0]), p1b, ak[1]), p2b, ak[2]);
        uint8_t* t = table + 64 * g;
        store_planes(e0, e1, t, t + 32);
        store_planes(vnegq_s16(e0), vnegq_s16(e1), t + 16, t + 48);
    }
}

void tl2_prepare(const int8_t* q, int64_t n, int64_t q_stride, int64_t padded_cols, uint8_t* out) {
    const int64_t pb = tl2_prepared_bytes(padded_cols);
    for (int64_t t = 0; t < n; ++t) tl2_build_table(q + t * q_stride, padded_cols, out + t * pb);
}

void tl2_matmul(const PackedTernary& w, const uint8_t* prepared, int64_t n, int32_t* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
    const int64_t gp = w.param[3];
    tl_matmul<Tl2>(w, prepared, tl2_prepared_bytes(w.padded_cols), gp, n, y, y_stride, row_begin, row_end);
}

void tl2_table_from_ref(const int16_t* ref_table, int64_t padded_cols, uint8_t* out) {
    const int64_t groups = (padded_cols + 2) / 3, gp = tl2_padded_groups(padded_cols);
    std::memset(out, 0, size_t(gp * 64));
    for (int64_t g = 0; g < groups; ++g)
        for (int v = 0; v < 14; ++v) {
            const int16_t e = ref_table[g * 14 + v], ne = int16_t(-e);
            out[64 * g + v] = uint8_t(e & 0xFF);
            out[64 * g + 32 + v] = uint8_t((e >> 8) & 0xFF);
            out[64 * g + 16 + v] = uint8_t(ne & 0xFF);
            out[64 * g + 48 + v] = uint8_t((ne >> 8) & 0xFF);
        }
}

int16_t tl2_table_entry(const uint8_t* table, int64_t group, int idx) {
    return int16_t(uint16_t(table[64 * group + idx] | (table[64 * group + 32 + idx] << 8)));
}

}  // namespace tern::kernels::neon
