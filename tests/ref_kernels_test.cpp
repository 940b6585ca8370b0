// The reference kernel table against hand-computed values and independent
// brute force (int64 loops over TernaryMatrix::get, double dot products).
// Outputs are poisoned (NaN / sentinel) before every call so an unwritten
// value fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "tern/error.h"
#include "kernels/ternary_formats.h"

namespace tern::kernels {
namespace {

const KernelTable& T() { return *table_ref(); }

constexpr int32_t kSentinel = int32_t(0x7eadbeef);

TEST(RefTable, Entries) {
    EXPECT_STREQ(T().name, "ref");
    EXPECT_NE(T().quantize_rows, nullptr);
    EXPECT_NE(T().float_matmul, nullptr);
    EXPECT_NE(T().dequantize_row, nullptr);
    EXPECT_NE(T().qdot_prepare, nullptr);
    EXPECT_NE(T().qdot_matmul, nullptr);
    for (int f = 0; f < kTernaryFamilies; ++f) {
        const TernaryKernels& k = T().ternary[f];
        EXPECT_NE(k.repack, nullptr) << f;
        EXPECT_NE(k.prepared_bytes, nullptr) << f;
        EXPECT_NE(k.prepare, nullptr) << f;
        EXPECT_NE(k.matmul, nullptr) << f;
    }
}

// ---------------------------------------------------------------- quantize_rows

// Run quantize_rows on `rows` (each `cols` long) with poisoned outputs.
struct Quantized {
    std::vector<int8_t> q;
    std::vector<float> s;
};
Quantized quantize(const std::vector<std::vector<float>>& rows, int64_t cols, int64_t q_stride) {
    const int64_t n = int64_t(rows.size()), x_stride = cols + 3;
    std::vector<float> x(size_t(n * x_stride), std::nanf(""));  // gaps between rows are NaN: must be ignored
    for (int64_t t = 0; t < n; ++t) std::copy(rows[size_t(t)].begin(), rows[size_t(t)].end(), x.begin() + t * x_stride);
    Quantized out{std::vector<int8_t>(size_t(n * q_stride), int8_t(0x5a)), std::vector<float>(size_t(n), std::nanf(""))};
    T().quantize_rows(x.data(), n, cols, x_stride, out.q.data(), q_stride, out.s.data());
    return out;
}

TEST(RefQuantize, TiesRoundHalfToEven) {
    // Row 0: amax 127 -> s = 1 exactly. Row 1: amax 254 -> s = 0.5 exactly.
    const std::vector<float> r0 = {127, 2.5f, 3.5f, -2.5f, -3.5f, 0.5f, 1.5f, -0.5f, -1.5f, 126.5f, 0.49f};
    const std::vector<float> r1 = {254, 5, 7, -5, -7, 1, 3, -1, 253, -254, 0};
    const Quantized out = quantize({r0, r1}, 11, 16);
    EXPECT_EQ(out.s[0], 1.0f);
    EXPECT_EQ(out.s[1], 0.5f);
    const int want0[11] = {127, 2, 4, -2, -4, 0, 2, 0, -2, 126, 0};
    const int want1[11] = {127, 2, 4, -2, -4, 0, 2, 0, 126, -127, 0};  // 253 * 0.5 = 126.5 -> 126
    for (int j = 0; j < 11; ++j) {
        EXPECT_EQ(out.q[size_t(j)], want0[j]) << j;
        EXPECT_EQ(out.q[size_t(16 + j)], want1[j]) << j;
    }
    for (int j = 11; j < 16; ++j) {
        EXPECT_EQ(out.q[size_t(j)], 0) << "tail must be zero-filled";
        EXPECT_EQ(out.q[size_t(16 + j)], 0);
    }
}

TEST(RefQuantize, ZeroTinyAndHugeRows) {
    const std::vector<float> zero(40, 0.0f);
    std::vector<float> tiny(40, 0.0f);
    tiny[3] = 1e-6f;  // below the 1e-5 floor: s = 127 / 1e-5, q = round(12.7) = 13
    tiny[4] = -2e-6f;
    std::vector<float> huge(40, 0.0f);
    huge[0] = 3e38f;
    huge[1] = -3e38f;
    huge[2] = 1.5e38f;
    huge[3] = std::numeric_limits<float>::max();
    const Quantized out = quantize({zero, tiny, huge}, 40, 64);
    EXPECT_EQ(out.s[0], 127.0f / 1e-5f);
    for (int j = 0; j < 64; ++j) EXPECT_EQ(out.q[size_t(j)], 0);
    EXPECT_EQ(out.s[1], 127.0f / 1e-5f);
    EXPECT_EQ(out.q[64 + 3], 13);
    EXPECT_EQ(out.q[64 + 4], -25);  // -25.4
    const float s2 = 127.0f / std::numeric_limits<float>::max();
    EXPECT_EQ(out.s[2], s2);
    EXPECT_TRUE(std::isfinite(out.s[2]) && out.s[2] > 0);
    EXPECT_EQ(out.q[128 + 3], 127);
    EXPECT_EQ(out.q[128 + 0], int(std::nearbyint(3e38f * s2)));
    EXPECT_EQ(out.q[128 + 1], -int(std::nearbyint(3e38f * s2)));
    EXPECT_NEAR(out.q[128 + 2], 1.5e38 * 127 / 3.4028234663852886e38, 0.51);
    for (int j = 4; j < 64; ++j) EXPECT_EQ(out.q[size_t(128 + j)], 0);
}

TEST(RefQuantize, RandomRowsMatchSpec) {
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int64_t cols : {1, 7, 128, 200, 2560}) {
        std::vector<std::vector<float>> rows(5, std::vector<float>(size_t(cols)));
        float gain = 0.01f;
        for (auto& r : rows) {
            for (auto& v : r) v = nd(rng) * gain;
            gain *= 17.0f;  // 0.01 .. ~800: real norm gains span this
        }
        const int64_t q_stride = round_up(cols, kTernaryColAlign);
        const Quantized out = quantize(rows, cols, q_stride);
        for (size_t t = 0; t < rows.size(); ++t) {
            double amax = 0;
            for (float v : rows[t]) amax = std::max(amax, std::fabs(double(v)));
            const float s = 127.0f / std::max(float(amax), 1e-5f);
            ASSERT_EQ(out.s[t], s);
            for (int64_t j = 0; j < cols; ++j) {
                // Independent rounding: floor(y + 0.5), fixing exact ties to even.
                const float y = rows[t][size_t(j)] * s;
                double r = std::floor(double(y) + 0.5);
                if (double(y) + 0.5 == r && std::fmod(r, 2.0) != 0) r -= 1;
                r = std::min(127.0, std::max(-128.0, r));
                ASSERT_EQ(out.q[t * size_t(q_stride) + size_t(j)], int(r)) << cols << " " << t << " " << j;
            }
            for (int64_t j = cols; j < q_stride; ++j) ASSERT_EQ(out.q[t * size_t(q_stride) + size_t(j)], 0);
        }
    }
}

// ---------------------------------------------------------------- I2S family

TernaryMatrix random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    TernaryMatrix m(rows, cols, 1.0f);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) m.set(r, c, int(rng() % 3) - 1);
    return m;
}

// q [n, padded_cols] with zeros past cols, as quantize_rows leaves it.
std::vector<int8_t> random_acts(int64_t n, int64_t cols, int64_t padded_cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int8_t> q(size_t(n * padded_cols), 0);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < cols; ++j) q[size_t(t * padded_cols + j)] = int8_t(int(rng() % 256) - 128);
    return q;
}

// y [n, rows] through the table's I2S entries, rows [row_begin, row_end) only.
std::vector<int32_t> run_family(TernaryFamily f, const TernaryMatrix& m, const std::vector<int8_t>& q, int64_t n,
                                int64_t row_begin, int64_t row_end) {
    const TernaryKernels& k = T().ternary[int(f)];
    const PackedTernary p = k.repack(m);
    const int64_t pb = k.prepared_bytes(m.padded_cols);
    AlignedBuffer prepared(size_t(n * pb));
    std::memset(prepared.data(), 0xa5, prepared.size());
    k.prepare(q.data(), n, m.padded_cols, m.padded_cols, prepared.data());
    std::vector<int32_t> y(size_t(n * m.rows), kSentinel);
    k.matmul(p, prepared.data(), n, y.data(), m.rows, row_begin, row_end);
    return y;
}

std::vector<int32_t> run_i2s(const TernaryMatrix& m, const std::vector<int8_t>& q, int64_t n, int64_t row_begin,
                             int64_t row_end) {
    return run_family(TernaryFamily::i2s, m, q, n, row_begin, row_end);
}

int64_t brute_dot(const TernaryMatrix& m, int64_t r, const int8_t* a) {
    int64_t s = 0;
    for (int64_t j = 0; j < m.cols; ++j) s += int64_t(a[j]) * int64_t(m.get(r, j));
    return s;
}

TEST(RefI2S, RepackAndPrepareLayout) {
    const TernaryMatrix m = random_matrix(5, 300, 1);
    const TernaryKernels& k = T().ternary[int(TernaryFamily::i2s)];
    const PackedTernary p = k.repack(m);
    EXPECT_EQ(p.rows, 5);
    EXPECT_EQ(p.cols, 300);
    EXPECT_EQ(p.padded_cols, 512);
    EXPECT_EQ(p.scale, 1.0f);
    for (int64_t v : p.param) EXPECT_EQ(v, 0);
    ASSERT_EQ(p.data.size(), m.codes.size());
    EXPECT_EQ(std::memcmp(p.data.data(), m.codes.data(), m.codes.size()), 0);
    EXPECT_EQ(k.prepared_bytes(256), 256);
    EXPECT_EQ(k.prepared_bytes(512), 512);
    EXPECT_EQ(k.prepared_bytes(100), 128);
    const std::vector<int8_t> q = random_acts(3, 300, 512, 2);
    AlignedBuffer out(size_t(3 * 512));
    std::memset(out.data(), 0xa5, out.size());
    k.prepare(q.data(), 3, 512, 512, out.data());
    EXPECT_EQ(std::memcmp(out.data(), q.data(), q.size()), 0);
}

TEST(RefI2S, MatmulMatchesBruteForce) {
    const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {3, 5}, {37, 200}, {16, 256}, {9, 1000}, {4, 2560}, {2, 8640}};
    uint32_t seed = 100;
    for (auto [rows, cols] : shapes) {
        const TernaryMatrix m = random_matrix(rows, cols, seed++);
        const int64_t n = 3;
        const std::vector<int8_t> q = random_acts(n, cols, m.padded_cols, seed++);
        const std::vector<int32_t> y = run_i2s(m, q, n, 0, rows);
        for (int64_t t = 0; t < n; ++t)
            for (int64_t r = 0; r < rows; ++r)
                ASSERT_EQ(int64_t(y[size_t(t * rows + r)]), brute_dot(m, r, q.data() + t * m.padded_cols))
                    << rows << "x" << cols << " t=" << t << " r=" << r;
    }
}

TEST(RefI2S, RowRangeWritesOnlyItsRows) {
    const TernaryMatrix m = random_matrix(20, 300, 7);
    const std::vector<int8_t> q = random_acts(2, 300, m.padded_cols, 8);
    const std::vector<int32_t> y = run_i2s(m, q, 2, 5, 13);
    for (int64_t t = 0; t < 2; ++t)
        for (int64_t r = 0; r < 20; ++r) {
            const int32_t v = y[size_t(t * 20 + r)];
            if (r < 5 || r >= 13)
                EXPECT_EQ(v, kSentinel) << r;
            else
                EXPECT_EQ(int64_t(v), brute_dot(m, r, q.data() + t * m.padded_cols)) << r;
        }
}

TEST(RefI2S, ExtremeValuesExact) {
    // cols 8640 (not a multiple of 256): every activation at the int8 extremes,
    // every weight equal. Sums reach 128 * 8640 = 1105920, far beyond int16.
    const int64_t cols = 8640, rows = 4;
    TernaryMatrix m(rows, cols, 1.0f);
    for (int64_t c = 0; c < cols; ++c) {
        m.set(0, c, -1);
        m.set(1, c, 1);
        m.set(2, c, 0);
        m.set(3, c, c % 2 ? 1 : -1);
    }
    const int64_t pc = m.padded_cols;
    std::vector<int8_t> q(size_t(3 * pc), 0);
    for (int64_t j = 0; j < cols; ++j) {
        q[size_t(j)] = -128;
        q[size_t(pc + j)] = 127;
        q[size_t(2 * pc + j)] = j % 2 ? int8_t(127) : int8_t(-128);
    }
    const std::vector<int32_t> y = run_i2s(m, q, 3, 0, rows);
    const int32_t want[3][4] = {
        {1105920, -1105920, 0, 0},
        {-1097280, 1097280, 0, 0},
        {-(127 - 128) * 4320, (127 - 128) * 4320, 0, 127 * 4320 + 128 * 4320},
    };
    for (int t = 0; t < 3; ++t)
        for (int r = 0; r < 4; ++r) EXPECT_EQ(y[size_t(t * 4 + r)], want[t][r]) << t << " " << r;
}

TEST(RefI2S, EndToEndFromI2SFile) {
    // File bytes -> decode -> repack -> matmul equals the brute force on the file's own indexing.
    const int64_t rows = 96, cols = 200;
    const TernaryMatrix src = random_matrix(rows, cols, 42);
    const std::vector<uint8_t> file = encode_i2s(src);
    const TernaryMatrix m = decode_i2s(file.data(), file.size(), rows, cols);
    const std::vector<int8_t> q = random_acts(1, cols, m.padded_cols, 43);
    const std::vector<int32_t> y = run_i2s(m, q, 1, 0, rows);
    for (int64_t r = 0; r < rows; ++r) {
        int64_t s = 0;
        for (int64_t c = 0; c < cols; ++c) {
            const int64_t f = r * cols + c;
            const int code = (file[size_t((f / 128) * 32 + f % 32)] >> (6 - 2 * ((f % 128) / 32))) & 3;
            s += int64_t(q[size_t(c)]) * (code - 1);
        }
        EXPECT_EQ(int64_t(y[size_t(r)]), s) << r;
    }
}

// ---------------------------------------------------------------- TL1 / TL2

TEST(RefTL1, TableByHand) {
    // Pattern i = 3*(w0+1) + (w1+1); entry = w0*a0 + w1*a1.
    int8_t a[256] = {3, -5, -128, -128};
    std::vector<int16_t> table(128 * ref::kTl1Entries, int16_t(0x7abc));
    ref::tl1_build_table(a, 256, table.data());
    const int16_t want0[9] = {2, -3, -8, 5, 0, -5, 8, 3, -2};
    for (int i = 0; i < 9; ++i) EXPECT_EQ(table[size_t(i)], want0[i]) << i;
    EXPECT_EQ(table[9 + 0], 256);  // int8 extremes still fit int16
    EXPECT_EQ(table[9 + 8], -256);
    EXPECT_EQ(table[9 + 4], 0);
    for (size_t i = 18; i < table.size(); ++i) EXPECT_EQ(table[i], 0) << i;
    // Lookup: nibbles low first. Pairs (w) = (-1,+1) -> 2, (+1,+1) -> 8.
    const uint8_t idx[1] = {uint8_t(2 | (8 << 4))};
    EXPECT_EQ(ref::tl1_lookup_row(idx, table.data(), 2), -8 + -256);
}

TEST(RefTL2, TableByHandAndSignFolding) {
    int8_t a[256] = {1, 10, 100, 0, 0, 0, 2, 20, 50};
    a[255] = 7;  // group 85 holds element 255 and two past padded_cols (activations 0)
    const int64_t groups = ref::tl2_groups(256);
    EXPECT_EQ(groups, 86);
    std::vector<int16_t> table(size_t(groups * ref::kTl2Entries), int16_t(0x7abc));
    ref::tl2_build_table(a, 256, table.data());
    EXPECT_EQ(table[0], -111);  // v = 0: (-1,-1,-1)
    EXPECT_EQ(table[5], 99);    // v = 5: (-1, 0, +1)
    EXPECT_EQ(table[12], -100);  // v = 12: (0, 0, -1)
    EXPECT_EQ(table[13], 0);     // v = 13: all zero
    EXPECT_EQ(table[size_t(85 * 14 + 0)], -7);
    // Row: (+1,0,-1) is v = 21 -> index 5 with sign; (0,0,0) index 13; (-1,-1,-1) index 0.
    TernaryMatrix m(1, 9, 1.0f);
    const int w[9] = {1, 0, -1, 0, 0, 0, -1, -1, -1};
    for (int c = 0; c < 9; ++c) m.set(0, c, w[c]);
    const PackedTernary p = T().ternary[int(TernaryFamily::tl2)].repack(m);
    EXPECT_EQ(p.param[0], 86);
    EXPECT_EQ(p.param[1], 43);
    EXPECT_EQ(p.param[2], 11);
    EXPECT_EQ(p.data.data()[0], 5 | (13 << 4));
    EXPECT_EQ(p.data.data()[1], 0 | (13 << 4));
    EXPECT_EQ(p.data.data()[43], 0x01);  // sign plane: group 0 negated
    EXPECT_EQ(ref::tl2_lookup_row(p.data.data(), p.data.data() + 43, table.data(), 3), -99 + 0 + -72);
}

TEST(RefTL, FamiliesEqualI2SRef) {
    const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {5, 3}, {37, 200}, {16, 256}, {9, 1000}, {3, 2560}, {2, 8640}};
    uint32_t seed = 500;
    for (auto [rows, cols] : shapes) {
        const TernaryMatrix m = random_matrix(rows, cols, seed++);
        std::vector<int8_t> q = random_acts(4, cols, m.padded_cols, seed++);
        for (int64_t j = 0; j < cols; ++j) q[size_t(3 * m.padded_cols + j)] = j % 3 ? int8_t(-128) : int8_t(127);
        const std::vector<int32_t> want = run_i2s(m, q, 4, 0, rows);
        for (TernaryFamily f : {TernaryFamily::tl1, TernaryFamily::tl2}) {
            const std::vector<int32_t> got = run_family(f, m, q, 4, 0, rows);
            EXPECT_EQ(got, want) << family_name(f) << " " << rows << "x" << cols;
            const std::vector<int32_t> part = run_family(f, m, q, 4, rows / 3, rows - rows / 4);
            for (int64_t t = 0; t < 4; ++t)
                for (int64_t r = 0; r < rows; ++r) {
                    const bool in = r >= rows / 3 && r < rows - rows / 4;
                    ASSERT_EQ(part[size_t(t * rows + r)], in ? want[size_t(t * rows + r)] : kSentinel)
                        << family_name(f) << " r=" << r;
                }
        }
    }
}

TEST(RefTL, ExtremeValuesExact) {
    const int64_t cols = 8640;
    TernaryMatrix m(3, cols, 1.0f);
    for (int64_t c = 0; c < cols; ++c) {
        m.set(0, c, -1);
        m.set(1, c, 1);
        m.set(2, c, c % 2 ? 1 : -1);
    }
    std::vector<int8_t> q(size_t(2 * m.padded_cols), 0);
    for (int64_t j = 0; j < cols; ++j) {
        q[size_t(j)] = -128;
        q[size_t(m.padded_cols + j)] = j % 2 ? int8_t(127) : int8_t(-128);
    }
    for (TernaryFamily f : {TernaryFamily::tl1, TernaryFamily::tl2}) {
        const std::vector<int32_t> y = run_family(f, m, q, 2, 0, 3);
        const std::vector<int32_t> want = {1105920, -1105920, 0, 4320, -4320, 255 * 4320};
        EXPECT_EQ(y, want) << family_name(f);
    }
}

// ---------------------------------------------------------------- float weights

// A Q6_K block built by hand: elements checked against values worked out on paper.
TEST(RefFloat, Q6KHandBuiltBlock) {
    BlockQ6_K b;
    std::memset(&b, 0, sizeof b);
    b.d = f32_to_fp16(0.5f);
    for (int i = 0; i < 16; ++i) b.scales[i] = int8_t(i - 8);  // -8 .. 7
    b.ql[0] = 0x3A;        // element 0 low nibble 10, element 64 low nibble 3
    b.qh[0] = 0b11100100;  // element 0 high 0, 32 high 1, 64 high 2, 96 high 3
    b.ql[64 + 33] = 0xF0;  // second half, l = 1: element 128+32+1 low nibble 0, element 128+96+1 low nibble 15
    b.qh[32 + 1] = 0b00000011;  // element 129 high 3
    float y[256];
    std::fill(y, y + 256, std::nanf(""));
    T().dequantize_row(GgmlType::Q6_K, reinterpret_cast<const uint8_t*>(&b), y, 256);
    // q = low | high << 4, minus 32; value = d * scale * q.
    EXPECT_EQ(y[0], 0.5f * -8 * (10 - 32));       // scale[0]
    EXPECT_EQ(y[32], 0.5f * -6 * (16 - 32));      // scale[2]
    EXPECT_EQ(y[64], 0.5f * -4 * (3 + 32 - 32));  // scale[4]
    EXPECT_EQ(y[96], 0.5f * -2 * (48 - 32));      // scale[6]
    EXPECT_EQ(y[16], 0.5f * -7 * -32);            // scale[1], all bits zero
    EXPECT_EQ(y[129], 0.5f * 0 * (48 - 32));      // scale[8] = 0
    EXPECT_EQ(y[128 + 32 + 1], 0.5f * 2 * -32);   // scale[10]; ql[64+33] low nibble 0
    EXPECT_EQ(y[128 + 96 + 1], 0.5f * 6 * (15 - 32));  // scale[14]
    EXPECT_EQ(y[255], 0.5f * 7 * -32);            // scale[15]
    for (int i = 0; i < 256; ++i) EXPECT_FALSE(std::isnan(y[i])) << i;
}

// Q4_K and Q5_K blocks built by hand (the same scales, mins and low bits; Q5_K
// adds two fifth bits): elements checked against values worked out on paper.
TEST(RefFloat, Q4KAndQ5KHandBuiltBlocks) {
    uint8_t scales[12] = {};
    scales[0] = 5;            // sub-block 0: scale 5
    scales[4] = 3;            //              min 3
    scales[1] = 0b01000010;   // sub-block 1: scale 2; bits 6-7: sub-block 5's scale bits 4-5 = 1
    scales[5] = 0b10000001;   //              min 1;   bits 6-7: sub-block 5's min bits 4-5 = 2
    scales[8] = 0x21;         // sub-block 4: scale 1, min 2
    scales[9] = 0x37;         // sub-block 5: scale 7 | 1 << 4 = 23, min 3 | 2 << 4 = 35
    BlockQ4_K b4;
    BlockQ5_K b5;
    std::memset(&b4, 0, sizeof b4);
    std::memset(&b5, 0, sizeof b5);
    b4.d = b5.d = f32_to_fp16(0.5f);
    b4.dmin = b5.dmin = f32_to_fp16(0.25f);
    std::memcpy(b4.scales, scales, 12);
    std::memcpy(b5.scales, scales, 12);
    for (uint8_t* qs : {b4.qs, b5.qs}) {
        qs[0] = 0x9C;           // element 0 (sub-block 0): 12; element 32 (sub-block 1): 9
        qs[2 * 32 + 5] = 0x4F;  // element 128 + 5 (sub-block 4): 15; element 160 + 5 (sub-block 5): 4
    }
    b5.qh[0] = 0b00000010;  // element 32: fifth bit (sub-block 1 = bit 1)
    b5.qh[5] = 0b00100000;  // element 165: fifth bit (sub-block 5 = bit 5)
    float y4[256], y5[256];
    std::fill(y4, y4 + 256, std::nanf(""));
    std::fill(y5, y5 + 256, std::nanf(""));
    T().dequantize_row(GgmlType::Q4_K, reinterpret_cast<const uint8_t*>(&b4), y4, 256);
    T().dequantize_row(GgmlType::Q5_K, reinterpret_cast<const uint8_t*>(&b5), y5, 256);
    // value = (d * scale) * q - dmin * min
    EXPECT_EQ(y4[0], 2.5f * 12 - 0.75f);
    EXPECT_EQ(y4[1], -0.75f);              // q 0
    EXPECT_EQ(y4[32], 1.0f * 9 - 0.25f);
    EXPECT_EQ(y4[133], 0.5f * 15 - 0.5f);
    EXPECT_EQ(y4[165], 11.5f * 4 - 8.75f);
    EXPECT_EQ(y4[255], 0.0f);              // sub-block 7: scale 0, min 0
    EXPECT_EQ(y5[0], y4[0]);
    EXPECT_EQ(y5[32], 1.0f * (9 + 16) - 0.25f);
    EXPECT_EQ(y5[133], y4[133]);
    EXPECT_EQ(y5[165], 11.5f * (4 + 16) - 8.75f);
    for (int i = 0; i < 256; ++i) EXPECT_FALSE(std::isnan(y4[i]) || std::isnan(y5[i])) << i;
}

// One weight matrix in every supported type, the same values where the type
// can hold them; float_matmul equals the documented 16-lane float dot over
// dequantize_row (ref.h), and is close to a double dot.
TEST(RefFloat, MatmulAllTypes) {
    const int64_t rows = 6, cols = 512, n = 3;
    std::mt19937 rng(77);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> w(size_t(rows * cols)), x(size_t(n * (cols + 5)));
    for (auto& v : w) v = nd(rng);
    for (auto& v : x) v = nd(rng) * 3.0f;

    for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q6_K}) {
        std::vector<uint8_t> bytes;
        int64_t row_bytes = 0;
        switch (type) {
            case GgmlType::F32:
                row_bytes = cols * 4;
                bytes.resize(size_t(rows * row_bytes));
                std::memcpy(bytes.data(), w.data(), bytes.size());
                break;
            case GgmlType::F16:
            case GgmlType::BF16:
                row_bytes = cols * 2;
                bytes.resize(size_t(rows * row_bytes));
                for (size_t i = 0; i < w.size(); ++i) {
                    const uint16_t h = type == GgmlType::F16 ? f32_to_fp16(w[i]) : f32_to_bf16(w[i]);
                    std::memcpy(bytes.data() + 2 * i, &h, 2);
                }
                break;
            case GgmlType::Q8_0:
                row_bytes = cols / 32 * 34;
                bytes.resize(size_t(rows * row_bytes));
                for (int64_t r = 0; r < rows; ++r)
                    quantize_row_q8_0(w.data() + r * cols, reinterpret_cast<BlockQ8_0*>(bytes.data() + r * row_bytes),
                                      cols);
                break;
            default: {  // Q6_K: random bytes are a valid block; keep d and scales sane.
                row_bytes = cols / 256 * 210;
                bytes.resize(size_t(rows * row_bytes));
                for (auto& v : bytes) v = uint8_t(rng());
                for (int64_t i = 0; i < rows * cols / 256; ++i) {
                    BlockQ6_K* b = reinterpret_cast<BlockQ6_K*>(bytes.data() + i * 210);
                    b->d = f32_to_fp16(0.001f * float(1 + i % 5));
                }
                break;
            }
        }
        std::vector<float> y(size_t(n * (rows + 2)), std::nanf(""));
        T().float_matmul(type, bytes.data(), row_bytes, cols, x.data(), n, cols + 5, y.data(), rows + 2, 0, rows);
        std::vector<float> wr(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
            T().dequantize_row(type, bytes.data() + r * row_bytes, wr.data(), cols);
            for (int64_t t = 0; t < n; ++t) {
                float lanes[16] = {};
                double dacc = 0.0, mag = 0.0;
                for (int64_t j = 0; j < cols; ++j) {
                    lanes[j % 16] += wr[size_t(j)] * x[size_t(t * (cols + 5) + j)];
                    dacc += double(wr[size_t(j)]) * double(x[size_t(t * (cols + 5) + j)]);
                    mag += std::fabs(double(wr[size_t(j)]) * double(x[size_t(t * (cols + 5) + j)]));
                }
                for (int h = 8; h >= 1; h /= 2)
                    for (int i = 0; i < h; ++i) lanes[i] = lanes[i] + lanes[i + h];
                const float acc = lanes[0];
                const float got = y[size_t(t * (rows + 2) + r)];
                EXPECT_EQ(got, acc) << type_name(uint32_t(type)) << " r=" << r << " t=" << t;
                EXPECT_NEAR(double(got), dacc, 1e-4 * mag) << type_name(uint32_t(type));
                if (type == GgmlType::F32) {
                    EXPECT_EQ(wr[5], w[size_t(r * cols + 5)]);
                }
            }
        }
        for (int64_t t = 0; t < n; ++t)
            for (int64_t r = rows; r < rows + 2; ++r) EXPECT_TRUE(std::isnan(y[size_t(t * (rows + 2) + r)]));
    }
}

// ---------------------------------------------------------------- qdot

// Activations to int16: s = 32767 / max|x|, half to even, header holds s.
TEST(RefQdot, PrepareByHand) {
    const float x[6] = {1.0f, -0.5f, 0.25f, 0.0f, -1.0f, 3.0517578125e-5f};  // the last is 1/32768
    AlignedBuffer p(size_t(qdot_prepared_bytes(6)));
    std::memset(p.data(), 0x55, p.size());
    T().qdot_prepare(x, 1, 6, 6, p.data());
    float s;
    std::memcpy(&s, p.data(), 4);
    EXPECT_EQ(s, 32767.0f);
    const int16_t* a = reinterpret_cast<const int16_t*>(p.data() + kQdotHeader);
    EXPECT_EQ(a[0], 32767);
    EXPECT_EQ(a[1], -16384);  // -16383.5 to even
    EXPECT_EQ(a[2], 8192);    // 8191.75
    EXPECT_EQ(a[3], 0);
    EXPECT_EQ(a[4], -32767);
    EXPECT_EQ(a[5], 1);       // 0.99997
    for (int j = 6; j < 32; ++j) EXPECT_EQ(a[j], 0) << j;  // padding zeroed
}

// qdot_matmul by hand: a Q8_0 row of two blocks (lanes, float step, fold, / s
// written out), a Q6_K row against its dequantized values, and both close to
// the float product.
TEST(RefQdot, MatmulByHand) {
    // Q8_0: block 0 d = 1, q_e = e - 16; block 1 d = 0.5, q_e = 3.
    std::vector<uint8_t> w(68);
    const uint16_t d0 = 0x3c00, d1 = 0x3800;
    std::memcpy(w.data(), &d0, 2);
    std::memcpy(w.data() + 34, &d1, 2);
    for (int e = 0; e < 32; ++e) w[size_t(2 + e)] = uint8_t(int8_t(e - 16)), w[size_t(36 + e)] = 3;
    std::vector<float> x(64);
    for (int j = 0; j < 64; ++j) x[size_t(j)] = float(j % 7) - 2.5f;
    AlignedBuffer p(size_t(qdot_prepared_bytes(64)));
    T().qdot_prepare(x.data(), 1, 64, 64, p.data());
    float s;
    std::memcpy(&s, p.data(), 4);
    const int16_t* a = reinterpret_cast<const int16_t*>(p.data() + kQdotHeader);
    float acc[16] = {};
    for (int i = 0; i < 16; ++i) acc[i] += float((2 * i - 16) * a[2 * i] + (2 * i + 1 - 16) * a[2 * i + 1]) * 1.0f;
    for (int i = 0; i < 16; ++i) acc[i] += float(3 * a[32 + 2 * i] + 3 * a[33 + 2 * i]) * 0.5f;
    for (int h = 8; h >= 1; h /= 2)
        for (int i = 0; i < h; ++i) acc[i] = acc[i] + acc[i + h];
    float y[2] = {std::nanf(""), std::nanf("")};
    T().qdot_matmul(GgmlType::Q8_0, w.data(), 68, 64, p.data(), 1, y, 1, 0, 1);
    EXPECT_EQ(y[0], acc[0] / s);
    EXPECT_TRUE(std::isnan(y[1]));
    std::vector<float> wf(64);
    T().dequantize_row(GgmlType::Q8_0, w.data(), wf.data(), 64);
    double dot = 0, mag = 0;
    for (int j = 0; j < 64; ++j) dot += double(wf[size_t(j)]) * x[size_t(j)], mag += std::fabs(double(wf[size_t(j)]) * x[size_t(j)]);
    EXPECT_NEAR(y[0], dot, 1e-4 * mag);

    // Q6_K: random blocks; equal to the exact integer dot of the dequantized
    // weights with the int16 activations, up to float rounding.
    std::mt19937 rng(5);
    const int64_t cols = 512;
    std::vector<uint8_t> q6(size_t(cols / 256 * 210));
    for (auto& v : q6) v = uint8_t(rng());
    for (int b = 0; b < 2; ++b) {
        const uint16_t d = f32_to_fp16(0.002f * float(b + 1));
        std::memcpy(q6.data() + b * 210 + 208, &d, 2);
    }
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> xr(static_cast<size_t>(cols)), wr(static_cast<size_t>(cols));
    for (auto& v : xr) v = nd(rng);
    AlignedBuffer p6(size_t(qdot_prepared_bytes(cols)));
    T().qdot_prepare(xr.data(), 1, cols, cols, p6.data());
    std::memcpy(&s, p6.data(), 4);
    const int16_t* a6 = reinterpret_cast<const int16_t*>(p6.data() + kQdotHeader);
    T().dequantize_row(GgmlType::Q6_K, q6.data(), wr.data(), cols);
    double exact = 0, fdot = 0;
    mag = 0;
    for (int64_t j = 0; j < cols; ++j) {
        exact += double(wr[size_t(j)]) * double(a6[j]) / double(s);
        fdot += double(wr[size_t(j)]) * double(xr[size_t(j)]);
        mag += std::fabs(double(wr[size_t(j)]) * double(xr[size_t(j)]));
    }
    T().qdot_matmul(GgmlType::Q6_K, q6.data(), 210 * 2, cols, p6.data(), 1, y, 1, 0, 1);
    EXPECT_NEAR(y[0], exact, 1e-6 * mag);
    EXPECT_NEAR(y[0], fdot, 1e-4 * mag);
    EXPECT_THROW(T().qdot_matmul(GgmlType::F32, q6.data(), 2048, 512, p6.data(), 1, y, 1, 0, 1), Error);
}

TEST(RefFloat, DequantizeSmallTypesByHand) {
    const uint16_t h[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
    float y[4];
    T().dequantize_row(GgmlType::F16, reinterpret_cast<const uint8_t*>(h), y, 4);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -2.0f);
    EXPECT_EQ(y[2], 0x1p-24f);
    EXPECT_EQ(y[3], 65504.0f);
    const uint16_t b[2] = {0x3f80, 0xc0a0};
    T().dequantize_row(GgmlType::BF16, reinterpret_cast<const uint8_t*>(b), y, 2);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -5.0f);
    BlockQ8_0 q;
    q.d = f32_to_fp16(0.25f);
    for (int j = 0; j < 32; ++j) q.qs[j] = int8_t(j * 8 - 128);
    float yq[32];
    T().dequantize_row(GgmlType::Q8_0, reinterpret_cast<const uint8_t*>(&q), yq, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(yq[j], float(j * 8 - 128) * 0.25f);
}

TEST(RefFloat, UnsupportedTypesThrow) {
    std::vector<uint8_t> w(1024);
    std::vector<float> x(256), y(4);
    EXPECT_THROW(T().float_matmul(GgmlType::Q4_0, w.data(), 144, 256, x.data(), 1, 256, y.data(), 1, 0, 1), Error);
    EXPECT_THROW(T().dequantize_row(GgmlType::TQ2_0, w.data(), y.data(), 256), Error);
    EXPECT_THROW(T().dequantize_row(GgmlType::Q8_0, w.data(), y.data(), 33), Error);
    EXPECT_THROW(T().dequantize_row(GgmlType::Q6_K, w.data(), y.data(), 128), Error);
}

// The attention kernels of ref (the truth every table is compared with in
// kernels/conformance.cpp) equal the contract's sums written out here: index
// order from +0.0f, product then add; on ragged key counts, head sizes that
// are not multiples of the key block, strides and accumulation; outputs past
// keys and D stay untouched.
TEST(RefAttention, SumsInIndexOrder) {
    std::mt19937 rng(41);
    std::normal_distribution<float> nd(0.0f, 1.5f);
    auto randv = [&](size_t count) {
        std::vector<float> v(count);
        for (auto& x : v) x = nd(rng);
        return v;
    };
    auto bits = [](float f) {
        uint32_t b;
        std::memcpy(&b, &f, 4);
        return b;
    };
    constexpr int64_t B = kAttnKeyBlock;
    for (int64_t D : {64, 80, 128})
        for (int64_t n : {1, 2, 3, 16}) {
            const int64_t q_stride = D + 5, s_stride = B + 3;
            const auto q = randv(size_t(n * q_stride)), kt = randv(size_t(D * B));
            for (int64_t keys : {1, 5, 63, 64}) {
                std::vector<float> s(size_t(n * s_stride), std::nanf(""));
                ref::attn_scores(q.data(), n, q_stride, D, kt.data(), keys, s.data(), s_stride);
                for (int64_t t = 0; t < n; ++t)
                    for (int64_t p = 0; p < s_stride; ++p) {
                        const float w = s[size_t(t * s_stride + p)];
                        if (p >= keys) {
                            ASSERT_TRUE(std::isnan(w)) << "ref wrote past keys";
                            continue;
                        }
                        float sum = 0.0f;
                        for (int64_t d = 0; d < D; ++d) {
                            const volatile float prod = q[size_t(t * q_stride + d)] * kt[size_t(d * B + p)];
                            sum += prod;
                        }
                        ASSERT_EQ(bits(w), bits(sum)) << "scores D=" << D << " t=" << t << " p=" << p;
                    }
            }
            for (int64_t keys : {1, 7, 64, 200}) {
                const int64_t a_stride = keys + 2, v_stride = D + 7, o_stride = D + 4;
                const auto a = randv(size_t(n * a_stride)), v = randv(size_t(keys * v_stride));
                const auto start = randv(size_t(n * o_stride));
                for (bool accumulate : {false, true}) {
                    std::vector<float> out(size_t(n * o_stride), std::nanf(""));
                    if (accumulate) out = start;
                    const std::vector<float> init = out;
                    ref::attn_values(a.data(), n, a_stride, v.data(), v_stride, keys, D, out.data(), o_stride,
                                     accumulate);
                    for (int64_t t = 0; t < n; ++t)
                        for (int64_t d = 0; d < o_stride; ++d) {
                            const float w = out[size_t(t * o_stride + d)];
                            if (d >= D) {
                                ASSERT_EQ(bits(w), bits(init[size_t(t * o_stride + d)])) << "ref wrote past D";
                                continue;
                            }
                            float sum = accumulate ? start[size_t(t * o_stride + d)] : 0.0f;
                            for (int64_t p = 0; p < keys; ++p) {
                                const volatile float prod = a[size_t(t * a_stride + p)] * v[size_t(p * v_stride + d)];
                                sum += prod;
                            }
                            ASSERT_EQ(bits(w), bits(sum)) << "values D=" << D << " t=" << t << " d=" << d;
                        }
                }
            }
        }
}

}  // namespace
}  // namespace tern::kernels
