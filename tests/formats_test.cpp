// The type table and the scalar float conversions of kernels/formats.h, and
// ggml's Q8_0 quantizer: hand-computed values and exhaustive sweeps.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/formats.h"
#include "kernels/ref/ref.h"
#include "tern/error.h"
#include "kernels/ternary_formats.h"

namespace tern {
namespace {

float f32(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// fp16 value computed independently, in double, from the bit fields.
double fp16_value(uint16_t h) {
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? std::ldexp(double(m), -24) : std::ldexp(double(1024 + m), e - 25);
    return s ? -v : v;
}

TEST(FormatTypes, TableMatchesGgml) {
    struct Row {
        uint32_t id;
        const char* name;
        int64_t elems, bytes;
    };
    const Row rows[] = {
        {0, "F32", 1, 4},       {1, "F16", 1, 2},        {2, "Q4_0", 32, 18},     {3, "Q4_1", 32, 20},
        {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},     {8, "Q8_0", 32, 34},     {9, "Q8_1", 32, 36},
        {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110},  {12, "Q4_K", 256, 144},  {13, "Q5_K", 256, 176},
        {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292},  {24, "I8", 1, 1},        {25, "I16", 1, 2},
        {26, "I32", 1, 4},      {27, "I64", 1, 8},       {28, "F64", 1, 8},       {30, "BF16", 1, 2},
        {34, "TQ1_0", 256, 54}, {35, "TQ2_0", 256, 66},  {36, "I2_S", 128, 32},
    };
    for (const Row& r : rows) {
        auto t = type_traits(r.id);
        ASSERT_TRUE(t.has_value()) << r.name;
        EXPECT_EQ(uint32_t(t->type), r.id);
        EXPECT_STREQ(t->name, r.name);
        EXPECT_STREQ(type_name(r.id), r.name);
        EXPECT_EQ(t->block_elems, r.elems) << r.name;
        EXPECT_EQ(t->block_bytes, r.bytes) << r.name;
    }
    EXPECT_EQ(kI2STrailerBytes, 32);
}

TEST(FormatTypes, UnknownIds) {
    for (uint32_t id : {4u, 5u, 16u, 23u, 29u, 31u, 37u, 38u, 39u, 1000u}) {
        EXPECT_FALSE(type_traits(id).has_value()) << id;
    }
    EXPECT_STREQ(type_name(39), "type39");
    EXPECT_STREQ(type_name(4294967295u), "type4294967295");
}

TEST(FormatFp16, EdgeValues) {
    EXPECT_EQ(f32_to_fp16(0.0f), 0x0000);
    EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
    EXPECT_TRUE(std::signbit(fp16_to_f32(0x8000)));
    EXPECT_EQ(fp16_to_f32(0x8000), 0.0f);
    EXPECT_EQ(f32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_fp16(-2.0f), 0xc000);
    EXPECT_EQ(fp16_to_f32(0x3555), 0x1.554p-2f);  // nearest fp16 to 1/3
    EXPECT_EQ(f32_to_fp16(1.0f / 3.0f), 0x3555);
    // Largest finite, and the rounding boundary to inf (65520 is the halfway point).
    EXPECT_EQ(fp16_to_f32(0x7bff), 65504.0f);
    EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);
    EXPECT_EQ(f32_to_fp16(65519.996f), 0x7bff);
    EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);
    EXPECT_EQ(f32_to_fp16(1e10f), 0x7c00);
    EXPECT_EQ(f32_to_fp16(-1e10f), 0xfc00);
    // Infinities.
    EXPECT_EQ(f32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
    EXPECT_EQ(f32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
    EXPECT_EQ(fp16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
    EXPECT_EQ(fp16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
    // NaN stays NaN both ways, sign kept, even with a payload only in low f32 bits.
    EXPECT_TRUE(std::isnan(fp16_to_f32(0x7e00)));
    EXPECT_TRUE(std::isnan(fp16_to_f32(0x7c01)));
    const uint16_t hn = f32_to_fp16(std::numeric_limits<float>::quiet_NaN());
    EXPECT_EQ(hn & 0x7c00, 0x7c00);
    EXPECT_NE(hn & 0x3ff, 0);
    const uint16_t hl = f32_to_fp16(f32(0xff800001u));  // negative NaN, payload in bit 0 only
    EXPECT_EQ(hl & 0xfc00, 0xfc00);
    EXPECT_NE(hl & 0x3ff, 0);
    // Subnormals: smallest, largest, smallest normal.
    EXPECT_EQ(fp16_to_f32(0x0001), 0x1p-24f);
    EXPECT_EQ(fp16_to_f32(0x03ff), 1023 * 0x1p-24f);
    EXPECT_EQ(fp16_to_f32(0x0400), 0x1p-14f);
    EXPECT_EQ(fp16_to_f32(0x8001), -0x1p-24f);
    EXPECT_EQ(f32_to_fp16(0x1p-24f), 0x0001);
    EXPECT_EQ(f32_to_fp16(1023 * 0x1p-24f), 0x03ff);
    EXPECT_EQ(f32_to_fp16(0x1p-14f), 0x0400);
    EXPECT_EQ(f32_to_fp16(1023.5f * 0x1p-24f), 0x0400);  // tie, rounds up into the normals (even)
    // Ties to even in the subnormal range.
    EXPECT_EQ(f32_to_fp16(0x1p-25f), 0x0000);               // 0.5 ulp: tie to 0
    EXPECT_EQ(f32_to_fp16(f32(bits(0x1p-25f) + 1)), 0x0001);  // just above the tie
    EXPECT_EQ(f32_to_fp16(-0x1p-25f), 0x8000);
    EXPECT_EQ(f32_to_fp16(1.5f * 0x1p-24f), 0x0002);
    EXPECT_EQ(f32_to_fp16(2.5f * 0x1p-24f), 0x0002);
    EXPECT_EQ(f32_to_fp16(0x1p-30f), 0x0000);
    EXPECT_EQ(f32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
    EXPECT_EQ(f32_to_fp16(-std::numeric_limits<float>::denorm_min()), 0x8000);
    // Ties to even among normals: 1 + 2^-11 is halfway between 0x3c00 and 0x3c01.
    EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
    EXPECT_EQ(f32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);
    EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    EXPECT_EQ(f32_to_fp16(2047.0f / 1024.0f + 0x1p-11f), 0x4000);  // carry into the exponent
}

TEST(FormatFp16, AllValuesRoundTrip) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = fp16_to_f32(uint16_t(h));
        const int e = (h >> 10) & 31;
        if (e == 31 && (h & 1023)) {
            ASSERT_TRUE(std::isnan(f)) << h;
        } else if (e == 31) {
            ASSERT_TRUE(std::isinf(f)) << h;
            ASSERT_EQ(std::signbit(f), bool(h & 0x8000)) << h;
        } else {
            ASSERT_EQ(double(f), fp16_value(uint16_t(h))) << h;
            ASSERT_EQ(std::signbit(f), bool(h & 0x8000)) << h;
        }
        ASSERT_EQ(f32_to_fp16(f), h) << h;  // NaN payloads included
    }
}

// f32 -> fp16 picks the nearest fp16, ties to the even one: checked against
// the neighbours in double, over random finite f32 in fp16's range.
TEST(FormatFp16, RoundsToNearestEven) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<uint32_t> u;
    int checked = 0;
    for (int i = 0; i < 400000; ++i) {
        // Exponents 2^-27 .. 2^16 (both sides of every fp16 range edge).
        const uint32_t x = (u(rng) & 0x807fffffu) | (uint32_t(100 + u(rng) % 44) << 23);
        const float f = f32(x);
        const uint16_t h = f32_to_fp16(f);
        const double v = double(f), hv = fp16_value(h & 0x7fff) * (std::signbit(f) ? -1 : 1);
        if ((h & 0x7fff) == 0x7c00) {
            ASSERT_GE(std::fabs(v), 65520.0) << f;
            continue;
        }
        ASSERT_EQ(bool(h & 0x8000), std::signbit(f));
        const double err = std::fabs(v - hv);
        const uint16_t mag = h & 0x7fff;
        for (int d : {-1, 1}) {
            const int nb = int(mag) + d;
            if (nb < 0 || nb >= 0x7c00) continue;
            const double nerr = std::fabs(std::fabs(v) - fp16_value(uint16_t(nb)));
            ASSERT_LE(err, nerr) << "f=" << f << " h=" << h;
            if (err == nerr) {
                ASSERT_EQ(mag & 1, 0) << "tie not to even, f=" << f;
            }
        }
        ++checked;
    }
    EXPECT_GT(checked, 300000);
}

TEST(FormatBf16, RoundNearestEvenAndNaN) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(-2.0f), 0xc000);
    EXPECT_EQ(f32_to_bf16(f32(0x3f808000u)), 0x3f80);  // tie -> even
    EXPECT_EQ(f32_to_bf16(f32(0x3f818000u)), 0x3f82);  // tie -> even (up)
    EXPECT_EQ(f32_to_bf16(f32(0x3f808001u)), 0x3f81);
    EXPECT_EQ(f32_to_bf16(f32(0x3f807fffu)), 0x3f80);
    EXPECT_EQ(f32_to_bf16(f32(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
    EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f32(0x7f800001u)))));  // payload only in low bits
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f32(0xffffffffu)))));
    EXPECT_TRUE(std::signbit(bf16_to_f32(f32_to_bf16(f32(0xff800001u)))));
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = bf16_to_f32(uint16_t(h));
        if (std::isnan(f)) {
            ASSERT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
        } else {
            ASSERT_EQ(f32_to_bf16(f), h);
        }
    }
}

TEST(FormatQ8_0, MatchesGgmlReference) {
    // Block 0: amax 127 -> d = 1, id = 1: roundf rounds halves away from zero (as ggml).
    // Block 1: x = j - 16 -> amax 16, d = 16/127.
    // Block 2: all zero -> d = 0, q = 0.
    float x[96] = {};
    x[0] = 127.0f;
    x[1] = 2.5f;
    x[2] = -2.5f;
    x[3] = 0.49f;
    x[4] = -126.6f;
    for (int j = 0; j < 32; ++j) x[32 + j] = float(j - 16);
    BlockQ8_0 y[3];
    std::memset(y, 0xAB, sizeof y);
    kernels::quantize_row_q8_0(x, y, 96);
    EXPECT_EQ(y[0].d, 0x3c00);
    EXPECT_EQ(y[0].qs[0], 127);
    EXPECT_EQ(y[0].qs[1], 3);
    EXPECT_EQ(y[0].qs[2], -3);
    EXPECT_EQ(y[0].qs[3], 0);
    EXPECT_EQ(y[0].qs[4], -127);
    EXPECT_EQ(y[0].qs[5], 0);
    const float d1 = 16.0f / 127.0f, id1 = 1.0f / d1;
    EXPECT_EQ(y[1].d, f32_to_fp16(d1));
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[1].qs[j], int(std::roundf(float(j - 16) * id1))) << j;
    EXPECT_EQ(y[1].qs[0], -127);
    EXPECT_EQ(y[1].qs[31], 119);  // 15 * 127/16 = 119.06
    EXPECT_EQ(y[2].d, 0);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[2].qs[j], 0);
    EXPECT_THROW(kernels::quantize_row_q8_0(x, y, 33), Error);
}

TEST(FormatQ8_0, RandomRowsDequantizeClose) {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    std::vector<float> x(32 * 40), back(x.size());
    for (auto& v : x) v = nd(rng);
    std::vector<BlockQ8_0> q(40);
    kernels::quantize_row_q8_0(x.data(), q.data(), int64_t(x.size()));
    kernels::ref::dequantize_row(GgmlType::Q8_0, reinterpret_cast<const uint8_t*>(q.data()), back.data(),
                                 int64_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
        const float d = fp16_to_f32(q[i / 32].d);
        EXPECT_NEAR(back[i], x[i], 0.5f * d + 2e-3f * std::fabs(x[i])) << i;
        EXPECT_EQ(back[i], float(q[i / 32].qs[i % 32]) * d);
    }
}


// tern's Q6_K quantizer: a row that Q6_K holds exactly comes back exactly
// (every sub-block's largest magnitude on level -32, scales that are integer
// multiples of a power-of-two d, levels -32..31), and ggml's layout is what
// the reference dequantizer reads.
TEST(FormatQ6_K, RepresentableRowsRoundTripExactly) {
    std::mt19937 rng(11);
    std::vector<float> x(512);
    const float d = 1.0f / 64;
    for (int j = 0; j < 32; ++j) {
        const int sc = j % 16 == 3 ? 127 : 1 + int(rng() % 127) * (j % 2 ? 1 : -1);  // one 127 per block
        for (int i = 0; i < 16; ++i) {
            const int q = i == 5 ? -32 : int(rng() % 63) - 31;  // -31..31, and -32 once
            x[size_t(16 * j + i)] = d * float(sc) * float(q);
        }
    }
    std::vector<BlockQ6_K> q(2);
    kernels::quantize_row_q6_k(x.data(), q.data(), 512);
    std::vector<float> back(x.size());
    kernels::ref::dequantize_row(GgmlType::Q6_K, reinterpret_cast<const uint8_t*>(q.data()), back.data(), 512);
    EXPECT_EQ(fp16_to_f32(q[0].d), d);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(back[i], x[i]) << i;
}

TEST(FormatQ6_K, RandomRowsDequantizeClose) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    std::vector<float> x(256 * 40), back(x.size());
    for (auto& v : x) v = nd(rng);
    x[7] = 25.0f;  // an outlier: its sub-block's scale, not the others'
    std::vector<BlockQ6_K> q(40);
    kernels::quantize_row_q6_k(x.data(), q.data(), int64_t(x.size()));
    kernels::ref::dequantize_row(GgmlType::Q6_K, reinterpret_cast<const uint8_t*>(q.data()), back.data(),
                                 int64_t(x.size()));
    double err = 0, sum = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const BlockQ6_K& b = q[i / 256];
        const float step = std::fabs(fp16_to_f32(b.d) * float(b.scales[(i % 256) / 16]));
        EXPECT_LE(std::fabs(back[i] - x[i]), step + 1e-6f) << i;  // within one level
        if (i < 256) continue;  // the outlier's block: its coarse d is the format's, not the quantizer's
        err += double(back[i] - x[i]) * (back[i] - x[i]);
        sum += double(x[i]) * x[i];
    }
    // Levels of ~amax/32 per 16 elements: ~1.5 % relative RMS error on Gaussian rows.
    EXPECT_LT(std::sqrt(err / sum), 0.018);
    EXPECT_NEAR(back[7], 25.0f, 0.2f);
}

TEST(FormatQ6_K, ZerosNansAndBadLengths) {
    std::vector<float> x(256, 0.0f);
    x[3] = std::nanf("");
    x[100] = 1.0f;
    BlockQ6_K q;
    kernels::quantize_row_q6_k(x.data(), &q, 256);
    std::vector<float> back(256);
    kernels::ref::dequantize_row(GgmlType::Q6_K, reinterpret_cast<const uint8_t*>(&q), back.data(), 256);
    for (int i = 0; i < 256; ++i)
        if (i != 100) EXPECT_EQ(back[size_t(i)], 0.0f) << i;
    EXPECT_NEAR(back[100], 1.0f, 1e-3f);  // 1 = -32 * (d * -sc) with d rounded to fp16
    EXPECT_THROW(kernels::quantize_row_q6_k(x.data(), &q, 255), Error);
}

// tern's Q4_K / Q5_K quantizers: Gaussian rows come back within the format's
// resolution (16 / 32 levels over each sub-block's range: 7.8 / 3.8 % RMS
// here), every element within about a level, zeros exactly; NaN reads as 0; lengths are checked.
template <class B>
void k_quant_round_trip(GgmlType type, void (*quantize)(const float*, B*, int64_t), double max_rel_rms, double max_err) {
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    std::vector<float> x(256 * 40), back(x.size());
    for (auto& v : x) v = nd(rng);
    for (int i = 0; i < 32; ++i) x[size_t(256 * 3 + i)] = 0.0f;  // a sub-block of zeros
    x[5] = std::nanf("");
    std::vector<B> q(40);
    quantize(x.data(), q.data(), int64_t(x.size()));
    kernels::ref::dequantize_row(type, reinterpret_cast<const uint8_t*>(q.data()), back.data(), int64_t(x.size()));
    double err = 0, sum = 0, worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        if (i == 5) continue;
        err += double(back[i] - x[i]) * (back[i] - x[i]);
        sum += double(x[i]) * x[i];
        worst = std::max(worst, double(std::fabs(back[i] - x[i])));
    }
    EXPECT_LT(std::sqrt(err / sum), max_rel_rms) << type_name(uint32_t(type));
    EXPECT_LT(worst, max_err) << type_name(uint32_t(type));  // about one level of a ~1.8-wide range
    for (int i = 0; i < 32; ++i) EXPECT_EQ(back[size_t(256 * 3 + i)], 0.0f) << i;
    EXPECT_THROW(quantize(x.data(), q.data(), 255), Error);
}

TEST(FormatQ4_K, RandomRowsDequantizeClose) { k_quant_round_trip<BlockQ4_K>(GgmlType::Q4_K, kernels::quantize_row_q4_k, 0.085, 0.09); }
TEST(FormatQ5_K, RandomRowsDequantizeClose) { k_quant_round_trip<BlockQ5_K>(GgmlType::Q5_K, kernels::quantize_row_q5_k, 0.042, 0.045); }

}  // namespace
}  // namespace tern
