// Ternary file formats <-> TernaryMatrix (SPEC §5) and float -> ternary (SPEC §3):
// exact bit positions from hand-built bytes, round trips over awkward shapes,
// and every error path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "tern/error.h"
#include "kernels/ternary_formats.h"

namespace tern::kernels {
namespace {

// Random ternary weights; with zero_block_every > 0, every that-many-th
// 256-column block of a row is left all zero (for TQ's d = 0 blocks).
TernaryMatrix random_matrix(int64_t rows, int64_t cols, float scale, uint32_t seed, int zero_block_every = 0) {
    std::mt19937 rng(seed);
    TernaryMatrix m(rows, cols, scale);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const bool zero_block = zero_block_every > 0 && ((r * 7 + c / 256) % zero_block_every) == zero_block_every - 1;
            m.set(r, c, zero_block ? 0 : int(rng() % 3) - 1);
        }
    return m;
}

void expect_same(const TernaryMatrix& a, const TernaryMatrix& b) {
    ASSERT_EQ(a.rows, b.rows);
    ASSERT_EQ(a.cols, b.cols);
    ASSERT_EQ(a.padded_cols, b.padded_cols);
    EXPECT_EQ(a.scale, b.scale);
    ASSERT_EQ(a.codes.size(), b.codes.size());
    // Whole buffers, padding included: padding must stay code 1.
    EXPECT_EQ(std::memcmp(a.codes.data(), b.codes.data(), a.codes.size()), 0);
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// ---------------------------------------------------------------- TernaryMatrix

TEST(TernaryMatrix, ConstructedAllZeroWithPadding) {
    TernaryMatrix m(3, 200, 0.25f);
    EXPECT_EQ(m.rows, 3);
    EXPECT_EQ(m.cols, 200);
    EXPECT_EQ(m.padded_cols, 256);
    EXPECT_EQ(m.scale, 0.25f);
    ASSERT_EQ(m.codes.size(), size_t(3 * 256 / 4));
    for (size_t i = 0; i < m.codes.size(); ++i) ASSERT_EQ(m.codes.data()[i], 0x55) << i;
    for (int64_t r = 0; r < 3; ++r)
        for (int64_t c = 0; c < 256; ++c) ASSERT_EQ(m.get(r, c), 0);
    m.set(1, 5, -1);
    m.set(1, 6, 1);
    EXPECT_EQ(m.get(1, 5), -1);
    EXPECT_EQ(m.get(1, 6), 1);
    EXPECT_EQ(m.row(1)[1], 0x61);  // 01 10 00 01: c=4 -> 0, c=5 -> -1, c=6 -> +1, c=7 -> 0
    EXPECT_EQ(TernaryMatrix(2, 256, 1.0f).padded_cols, 256);
    EXPECT_EQ(TernaryMatrix(2, 257, 1.0f).padded_cols, 512);
    EXPECT_EQ(TernaryMatrix(0, 0, 1.0f).codes.size(), 0u);
    EXPECT_THROW(TernaryMatrix(-1, 4, 1.0f), Error);
}

TEST(TernaryMatrix, FamilyNames) {
    EXPECT_STREQ(family_name(TernaryFamily::i2s), "i2s");
    EXPECT_STREQ(family_name(TernaryFamily::tl1), "tl1");
    EXPECT_STREQ(family_name(TernaryFamily::tl2), "tl2");
}

// ---------------------------------------------------------------- I2_S

TEST(TernaryI2S, EncodeBitPositions) {
    // All weights -1 (code 0) but one +1 (code 2): exactly one nonzero bit pair.
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{3, 128}, {96, 200}, {2, 320}}) {
        const int64_t n = rows * cols;
        for (int64_t f : {int64_t(0), int64_t(31), int64_t(32), int64_t(95), int64_t(127), int64_t(128), int64_t(200),
                          n - 1, n / 2 + 33}) {
            TernaryMatrix m(rows, cols, 1.5f);
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < cols; ++c) m.set(r, c, -1);
            m.set(f / cols, f % cols, 1);
            const std::vector<uint8_t> bytes = encode_i2s(m);
            ASSERT_EQ(bytes.size(), size_t(n / 4 + 32));
            const int64_t b = f / 128, g = (f % 128) / 32, p = f % 32;
            for (int64_t i = 0; i < n / 4; ++i) {
                const uint8_t want = i == b * 32 + p ? uint8_t(2 << (6 - 2 * g)) : 0;
                ASSERT_EQ(bytes[size_t(i)], want) << "f=" << f << " byte " << i;
            }
            float s;
            std::memcpy(&s, bytes.data() + n / 4, 4);
            EXPECT_EQ(s, 1.5f);
            for (int64_t i = n / 4 + 4; i < n / 4 + 32; ++i) EXPECT_EQ(bytes[size_t(i)], 0);
        }
    }
}

TEST(TernaryI2S, DecodeBitPositions) {
    // All codes 1 (0x55 bytes: weight 0) but one code set to 2 or 0 by hand;
    // code 3 is refused, naming the element. cols = 200: blocks span rows
    // (the general loop); cols = 256, 384: rows start on a block (the fast path;
    // 384 has padding to 512 in the canonical rows).
    for (const int64_t cols : {int64_t(200), int64_t(256), int64_t(384)}) {
        const int64_t rows = 96, n = rows * cols;
        for (int64_t f : {int64_t(0), int64_t(33), int64_t(127), int64_t(199), int64_t(200), int64_t(255), n - 1}) {
            for (int code : {0, 2, 3}) {
                std::vector<uint8_t> bytes(size_t(n / 4 + 32), 0x55);
                const float scale = 0.75f;
                std::memcpy(bytes.data() + n / 4, &scale, 4);
                const int64_t b = f / 128, g = (f % 128) / 32, p = f % 32;
                uint8_t& byte = bytes[size_t(b * 32 + p)];
                const int sh = int(6 - 2 * g);
                byte = uint8_t((byte & ~(3 << sh)) | (code << sh));
                if (code == 3) {
                    try {
                        decode_i2s(bytes.data(), bytes.size(), rows, cols);
                        ADD_FAILURE() << "code 3 accepted, cols=" << cols << " f=" << f;
                    } catch (const Error& e) {
                        EXPECT_NE(std::string(e.what()).find("invalid code 3 at flat element " + std::to_string(f) + " "),
                                  std::string::npos)
                            << e.what();
                    }
                    continue;
                }
                const TernaryMatrix m = decode_i2s(bytes.data(), bytes.size(), rows, cols);
                EXPECT_EQ(m.scale, 0.75f);
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c = 0; c < m.padded_cols; ++c) {
                        const int want = (r * cols + c == f && c < cols) ? code - 1 : 0;
                        ASSERT_EQ(m.get(r, c), want) << "cols=" << cols << " f=" << f << " r=" << r << " c=" << c;
                    }
            }
        }
    }
}

TEST(TernaryI2S, RoundTripAwkwardShapes) {
    // rows * cols % 128 == 0 but cols % 128 != 0 in most: blocks span rows.
    const std::pair<int64_t, int64_t> shapes[] = {{1, 128}, {3, 128}, {96, 200}, {64, 6},   {128, 1},
                                                  {7, 640}, {13, 896}, {5, 2560}, {32, 2500}, {2, 6912}};
    uint32_t seed = 1;
    for (auto [rows, cols] : shapes) {
        const TernaryMatrix m = random_matrix(rows, cols, 0.0123f * float(seed), seed);
        const std::vector<uint8_t> bytes = encode_i2s(m);
        ASSERT_EQ(bytes.size(), i2s_tensor_bytes(rows, cols));
        // Independent reading of SPEC §5 for every element.
        for (int64_t f = 0; f < rows * cols; ++f) {
            const int code = (bytes[size_t((f / 128) * 32 + f % 32)] >> (6 - 2 * ((f % 128) / 32))) & 3;
            ASSERT_EQ(code - 1, m.get(f / cols, f % cols)) << rows << "x" << cols << " f=" << f;
        }
        expect_same(decode_i2s(bytes.data(), bytes.size(), rows, cols), m);
        // The decoder needs only the codes and the 4 scale bytes.
        expect_same(decode_i2s(bytes.data(), bytes.size() - 28, rows, cols), m);
        ++seed;
    }
}

TEST(TernaryI2S, Errors) {
    std::vector<uint8_t> bytes(96 * 200 / 4 + 32, 0x55);
    EXPECT_THROW(decode_i2s(bytes.data(), bytes.size(), 3, 100), Error);             // 300 % 128 != 0
    EXPECT_THROW(decode_i2s(bytes.data(), 96 * 200 / 4 + 3, 96, 200), Error);         // no room for the scale
    EXPECT_THROW(decode_i2s(bytes.data(), bytes.size(), -96, 200), Error);
    EXPECT_THROW(encode_i2s(TernaryMatrix(3, 100, 1.0f)), Error);
    // Non-finite scale.
    const float nan = std::nanf("");
    std::memcpy(bytes.data() + 96 * 200 / 4, &nan, 4);
    EXPECT_THROW(decode_i2s(bytes.data(), bytes.size(), 96, 200), Error);
    // Code 3 names the flat index: element 4807 = block 37, group 2, position 7.
    const float one = 1.0f;
    std::memcpy(bytes.data() + 96 * 200 / 4, &one, 4);
    bytes[37 * 32 + 7] |= 3 << 2;
    const std::string msg = message_of([&] { decode_i2s(bytes.data(), bytes.size(), 96, 200); });
    EXPECT_NE(msg.find("flat element 4807"), std::string::npos) << msg;
    EXPECT_NE(msg.find("row 24, column 7"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- TQ2_0

TEST(TernaryTQ2, DecodeBitPositions) {
    // One block of 256: element j*4 + l*32 + m is bits 2l..2l+1 of qs[j + m].
    for (int j : {0, 32})
        for (int l = 0; l < 4; ++l)
            for (int mm : {0, 5, 31}) {
                BlockTQ2_0 b;
                std::memset(b.qs, 0x55, sizeof b.qs);
                b.d = f32_to_fp16(0.5f);
                b.qs[j + mm] = uint8_t((b.qs[j + mm] & ~(3 << (2 * l))) | (2 << (2 * l)));
                const TernaryMatrix m = decode_tq2_0(reinterpret_cast<const uint8_t*>(&b), sizeof b, 1, 256);
                EXPECT_EQ(m.scale, 0.5f);
                const int e = j * 4 + l * 32 + mm;
                for (int c = 0; c < 256; ++c) ASSERT_EQ(m.get(0, c), c == e ? 1 : 0) << e << " " << c;
            }
}

TEST(TernaryTQ2, EncodeBitPositions) {
    TernaryMatrix m(1, 256, 0.5f);
    m.set(0, 4 * 32 + 2 * 32 + 9, -1);  // j = 32, l = 2, m = 9
    m.set(0, 3 * 32 + 31, 1);           // j = 0, l = 3, m = 31
    const std::vector<uint8_t> bytes = encode_tq2_0(m);
    ASSERT_EQ(bytes.size(), sizeof(BlockTQ2_0));
    BlockTQ2_0 b;
    std::memcpy(&b, bytes.data(), sizeof b);
    EXPECT_EQ(b.d, 0x3800);  // fp16 0.5
    for (int i = 0; i < 64; ++i) {
        uint8_t want = 0x55;
        if (i == 32 + 9) want = 0x55 & ~(3 << 4);          // code 0 at bits 4-5
        if (i == 31) want = uint8_t((0x55 & ~(3 << 6)) | (2 << 6));
        EXPECT_EQ(b.qs[i], want) << i;
    }
}

TEST(TernaryTQ2, RoundTripWithZeroBlocks) {
    const std::pair<int64_t, int64_t> shapes[] = {{1, 256}, {3, 512}, {7, 768}, {20, 2560}};
    uint32_t seed = 11;
    for (auto [rows, cols] : shapes) {
        const TernaryMatrix m = random_matrix(rows, cols, 0.8125f, seed++, 3);
        const std::vector<uint8_t> bytes = encode_tq2_0(m);
        ASSERT_EQ(bytes.size(), size_t(rows * cols / 256 * 66));
        int zero_blocks = 0;
        for (int64_t i = 0; i < rows * cols / 256; ++i) {
            BlockTQ2_0 b;
            std::memcpy(&b, bytes.data() + i * 66, 66);
            const int64_t r = i / (cols / 256), c0 = (i % (cols / 256)) * 256;
            bool any = false;
            for (int c = 0; c < 256; ++c) any |= m.get(r, c0 + c) != 0;
            // ggml's quantizer writes d = amax: 0 for an all-zero block.
            EXPECT_EQ(b.d, any ? f32_to_fp16(0.8125f) : 0) << i;
            zero_blocks += !any;
        }
        if (rows * cols / 256 >= 3) {
            EXPECT_GT(zero_blocks, 0);
        }
        expect_same(decode_tq2_0(bytes.data(), bytes.size(), rows, cols), m);
    }
}

TEST(TernaryTQ2, ScalesAndErrors) {
    // Two blocks: d = 0.5 and d = 0.5 + one fp16 step are the same scale.
    BlockTQ2_0 b[2];
    std::memset(b, 0x55, sizeof b);
    b[0].d = f32_to_fp16(0.5f);
    b[1].d = uint16_t(b[0].d + 1);
    b[1].qs[0] = 0x56;  // element 0 of block 1: code 2
    auto data = reinterpret_cast<const uint8_t*>(b);
    TernaryMatrix m = decode_tq2_0(data, sizeof b, 1, 512);
    EXPECT_EQ(m.scale, 0.5f);
    EXPECT_EQ(m.get(0, 256), 1);
    // Two steps apart: per-block scales, refused.
    b[1].d = uint16_t(b[0].d + 2);
    const std::string msg = message_of([&] { decode_tq2_0(data, sizeof b, 1, 512); });
    EXPECT_NE(msg.find("one scale per tensor"), std::string::npos) << msg;
    // A d = 0 block decodes to zeros whatever its codes, and does not vote.
    b[0].d = 0;
    b[0].qs[3] = 0x00;  // codes 0 (would be -1)
    b[1].d = f32_to_fp16(0.25f);
    m = decode_tq2_0(data, sizeof b, 1, 512);
    EXPECT_EQ(m.scale, 0.25f);
    for (int c = 0; c < 256; ++c) ASSERT_EQ(m.get(0, c), 0);
    // A negative d flips the block's signs.
    b[1].d = f32_to_fp16(-0.25f);
    m = decode_tq2_0(data, sizeof b, 1, 512);
    EXPECT_EQ(m.scale, 0.25f);
    EXPECT_EQ(m.get(0, 256), -1);
    // All blocks zero: an all-zero matrix of scale 0.
    b[1].d = 0;
    m = decode_tq2_0(data, sizeof b, 1, 512);
    EXPECT_EQ(m.scale, 0.0f);
    expect_same(m, TernaryMatrix(1, 512, 0.0f));
    // Code 3, truncation, shape, non-finite d.
    b[1].d = f32_to_fp16(0.25f);
    b[1].qs[40] = 0x55 | (3 << 2);  // element 32*4 + 1*32 + 8 = 168 of block 1
    const std::string msg3 = message_of([&] { decode_tq2_0(data, sizeof b, 1, 512); });
    EXPECT_NE(msg3.find("row 0, column 424"), std::string::npos) << msg3;
    b[1].qs[40] = 0x55;
    EXPECT_THROW(decode_tq2_0(data, sizeof b - 1, 1, 512), Error);
    EXPECT_THROW(decode_tq2_0(data, sizeof b, 2, 128), Error);
    EXPECT_THROW(encode_tq2_0(TernaryMatrix(1, 300, 1.0f)), Error);
    b[1].d = 0x7c00;
    EXPECT_THROW(decode_tq2_0(data, sizeof b, 1, 512), Error);
}

// ---------------------------------------------------------------- TQ1_0

TEST(TernaryTQ1, HandBuiltBlock) {
    // Base-3 digits, first element most significant, stored as ceil(v*256/243):
    // all zero weights (digits 1,1,1,1,1) v = 121 -> 128; qh (1,1,1,1,[0]) 120 -> 127.
    TernaryMatrix m(1, 256, 2.0f);
    m.set(0, 0, 1);     // qs[0] digit 0 = 2: v = 202 -> 213
    m.set(0, 160, 1);   // qs[32] digit 0 = 2 -> 213
    m.set(0, 240, -1);  // qh[0] digit 0 = 0: v = 13 * 3 = 39 -> 42
    m.set(0, 255, 1);   // qh[3] digit 3 = 2: v = (1,1,1,2) = 41 * 3 = 123 -> 130
    m.set(0, 67, -1);   // qs[3] digit 2 = 0: v = 121 - 9 = 112 -> 118
    const std::vector<uint8_t> bytes = encode_tq1_0(m);
    ASSERT_EQ(bytes.size(), 54u);
    BlockTQ1_0 b;
    std::memcpy(&b, bytes.data(), sizeof b);
    EXPECT_EQ(b.d, 0x4000);  // fp16 2.0
    for (int q = 0; q < 48; ++q) {
        const int want = q == 0 || q == 32 ? 213 : q == 3 ? 118 : 128;
        EXPECT_EQ(b.qs[q], want) << q;
    }
    EXPECT_EQ(b.qh[0], 42);
    EXPECT_EQ(b.qh[1], 127);
    EXPECT_EQ(b.qh[2], 127);
    EXPECT_EQ(b.qh[3], 130);
    expect_same(decode_tq1_0(bytes.data(), bytes.size(), 1, 256), m);
}

TEST(TernaryTQ1, All243PatternsOfOneByte) {
    // Elements 0, 32, 64, 96, 128 share qs[0]; walk all 3^5 patterns.
    for (int v = 0; v < 243; ++v) {
        TernaryMatrix m(1, 256, 1.0f);
        m.set(0, 7, 1);  // keep the block nonzero even for the all-zero pattern
        int digits[5], x = v;
        for (int n = 4; n >= 0; --n) digits[n] = x % 3, x /= 3;
        for (int n = 0; n < 5; ++n) m.set(0, 32 * n, digits[n] - 1);
        const std::vector<uint8_t> bytes = encode_tq1_0(m);
        ASSERT_EQ(bytes[0], (v * 256 + 242) / 243) << v;
        expect_same(decode_tq1_0(bytes.data(), bytes.size(), 1, 256), m);
    }
}

TEST(TernaryTQ1, RoundTripAndErrors) {
    const std::pair<int64_t, int64_t> shapes[] = {{1, 256}, {4, 512}, {9, 1280}, {16, 2560}};
    uint32_t seed = 21;
    for (auto [rows, cols] : shapes) {
        const TernaryMatrix m = random_matrix(rows, cols, 0.03125f, seed++, 4);
        const std::vector<uint8_t> bytes = encode_tq1_0(m);
        ASSERT_EQ(bytes.size(), size_t(rows * cols / 256 * 54));
        expect_same(decode_tq1_0(bytes.data(), bytes.size(), rows, cols), m);
        // TQ1 and TQ2 of the same matrix decode to the same thing.
        const std::vector<uint8_t> b2 = encode_tq2_0(m);
        expect_same(decode_tq2_0(b2.data(), b2.size(), rows, cols), decode_tq1_0(bytes.data(), bytes.size(), rows, cols));
    }
    std::vector<uint8_t> bytes(54 * 2, 128);
    EXPECT_THROW(decode_tq1_0(bytes.data(), bytes.size(), 1, 256 * 3), Error);  // truncated
    EXPECT_THROW(decode_tq1_0(bytes.data(), bytes.size(), 2, 100), Error);      // not a multiple of 256
    const uint16_t d1 = f32_to_fp16(1.0f), d2 = f32_to_fp16(2.0f);
    std::memcpy(bytes.data() + 52, &d1, 2);
    std::memcpy(bytes.data() + 54 + 52, &d2, 2);
    EXPECT_THROW(decode_tq1_0(bytes.data(), bytes.size(), 1, 512), Error);  // disagreeing scales
    std::memcpy(bytes.data() + 54 + 52, &d1, 2);
    const TernaryMatrix z = decode_tq1_0(bytes.data(), bytes.size(), 1, 512);  // bytes 128/128: all zero
    expect_same(z, TernaryMatrix(1, 512, 1.0f));
}

// ---------------------------------------------------------------- float linears

TEST(TernaryFloat, AbsmeanHandValues) {
    // mean |W| = 1 exactly: W / beta lands on the ties +-0.5, +-1.5 and 2.5.
    const float w[8] = {0.5f, -0.5f, 1.5f, -1.5f, 0.0f, 2.5f, -0.25f, 0.75f};  // sum |w| = 7.5
    const float w8[8] = {0.5f, -0.5f, 1.5f, -1.5f, 0.0f, 2.5f, -0.5f, 1.0f};  // sum |w| = 8
    TernaryMatrix m = ternarize_absmean(w8, 2, 4);
    EXPECT_EQ(m.scale, 1.0f);
    const int want8[8] = {0, 0, 1, -1, 0, 1, 0, 1};  // 0.5 -> 0, -0.5 -> 0 (half to even), 1.5 -> 2 -> 1
    for (int i = 0; i < 8; ++i) EXPECT_EQ(m.get(i / 4, i % 4), want8[i]) << i;
    m = ternarize_absmean(w, 1, 8);
    EXPECT_EQ(m.scale, 7.5f / 8.0f);
    const int want[8] = {1, -1, 1, -1, 0, 1, 0, 1};  // 0.5/0.9375 = 0.53 -> 1; 0.25/0.9375 -> 0
    for (int i = 0; i < 8; ++i) EXPECT_EQ(m.get(0, i), want[i]) << i;
    // All zero: beta floors at 1e-5.
    const float z[4] = {0, 0, 0, 0};
    m = ternarize_absmean(z, 1, 4);
    EXPECT_EQ(m.scale, 1e-5f);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(m.get(0, i), 0);
    const float bad[2] = {1.0f, std::nanf("")};
    EXPECT_THROW(ternarize_absmean(bad, 1, 2), Error);
}

TEST(TernaryFloat, AbsmeanMatchesBruteForce) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    const int64_t rows = 17, cols = 300;
    std::vector<float> w(size_t(rows * cols));
    for (auto& v : w) v = nd(rng);
    const TernaryMatrix m = ternarize_absmean(w.data(), rows, cols);
    double s = 0;
    for (float v : w) s += std::fabs(double(v));
    const float beta = float(s / double(w.size()));
    EXPECT_EQ(m.scale, beta);
    for (int64_t i = 0; i < rows * cols; ++i) {
        const double x = double(w[size_t(i)]) / double(beta);
        const int want = x > 0.5 ? 1 : (x < -0.5 ? -1 : 0);
        if (std::fabs(std::fabs(x) - 0.5) > 1e-6) {
            ASSERT_EQ(m.get(i / cols, i % cols), want) << i;
        }
    }
}

TEST(TernaryFloat, FromTernaryFloatsAndDetection) {
    const float a = 0.6875f;
    const float w[8] = {a, -a, 0.0f, 5e-7f, -a, a, -0.0f, a};
    const TernaryMatrix m = from_ternary_floats(w, 2, 4);
    EXPECT_EQ(m.scale, a);
    const int want[8] = {1, -1, 0, 0, -1, 1, 0, 1};
    for (int i = 0; i < 8; ++i) EXPECT_EQ(m.get(i / 4, i % 4), want[i]) << i;
    EXPECT_TRUE(looks_ternary(w, 8));
    // Absmean on these would give beta = mean|W| (5/8 a), the wrong scale.
    EXPECT_NE(ternarize_absmean(w, 2, 4).scale, a);

    const float zeros[3] = {0, 0, 0};
    EXPECT_TRUE(looks_ternary(zeros, 3));
    const float close[3] = {a, -a * (1 + 1e-6f), 0};
    EXPECT_TRUE(looks_ternary(close, 3));
    const float two[3] = {a, a / 2, 0};
    EXPECT_FALSE(looks_ternary(two, 3));
    const float latent[4] = {0.01f, -0.02f, 0.015f, 0.0f};
    EXPECT_FALSE(looks_ternary(latent, 4));
    const float nan[2] = {a, std::nanf("")};
    EXPECT_FALSE(looks_ternary(nan, 2));
    const float inf[2] = {a, INFINITY};
    EXPECT_FALSE(looks_ternary(inf, 2));
    EXPECT_THROW(from_ternary_floats(nan, 1, 2), Error);
}

}  // namespace
}  // namespace tern::kernels
