// Every kernel of every SIMD table this CPU runs equals the reference table
// bit for bit (DESIGN.md verification ladder, steps 1 and 2):
// - quantize_rows: int8 codes, padding zeros and scale bits;
// - each ternary family: repack + prepare + matmul against ref I2S sums, over
//   odd shapes, N = 1, 2, 3, 8, 33, 128, extreme activations and weights, row
//   sub-ranges that do not line up with any tile, outputs poisoned first;
// - TL1 / TL2 (x86 layouts): table build and table lookup as separate steps;
// - float_matmul / dequantize_row for F32, F16, BF16, Q8_0, Q6_K;
// - qdot_prepare / qdot_matmul for Q8_0, Q6_K, 1 to 16 tokens;
// - the whole forward pass of every test model on each table and family
//   equals the forward pass on the reference table.
// Tables the CPU lacks are skipped (listed in the output), never faked.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "model/hparams.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "kernels/self_test.h"
#include "tern/model.h"
#include "tern/session.h"
#include "test_util.h"
#include "kernels/ternary_formats.h"
#if defined(__x86_64__)
#include "kernels/x86/x86.h"
#endif

namespace tern::kernels {
namespace {

constexpr int32_t kSentinel = int32_t(0x7eadbeef);

uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

// The SIMD tables this machine runs (everything but ref).
std::vector<const KernelTable*> simd_tables() {
    std::vector<const KernelTable*> out;
    for (const auto& e : available_tables())
        if (e.runs_here && std::string(e.table->name) != "ref") out.push_back(e.table);
    return out;
}

std::vector<std::string> skipped_tables() {
    std::vector<std::string> out;
    for (const auto& e : available_tables())
        if (!e.runs_here) out.push_back(e.table->name);
    return out;
}

TEST(KernelsX86, TablesThisCpuRuns) {
    std::string ran, skipped;
    for (const auto* t : simd_tables()) ran += std::string(t->name) + " ";
    for (const auto& s : skipped_tables()) skipped += s + " ";
    std::printf("[ tables ] testing: %s| not on this CPU: %s\n", ran.c_str(), skipped.c_str());
#if defined(__x86_64__)
    // This project's x86 machines all have AVX2; the tables must be offered.
    if (cpu_features().avx2 && cpu_features().fma && cpu_features().f16c) {
        EXPECT_FALSE(simd_tables().empty());
    }
#endif
    for (const auto* t : simd_tables()) {
        EXPECT_NE(t->quantize_rows, nullptr) << t->name;
        EXPECT_NE(t->float_matmul, nullptr) << t->name;
        EXPECT_NE(t->dequantize_row, nullptr) << t->name;
        for (int f = 0; f < kTernaryFamilies; ++f) {
            const TernaryKernels& k = t->ternary[f];
            EXPECT_TRUE(k.repack && k.prepared_bytes && k.prepare && k.matmul) << t->name << " family " << f;
        }
    }
}

// ---------------------------------------------------------------- quantize_rows

void check_quantize(const KernelTable& T, const std::vector<float>& x, int64_t n, int64_t cols, int64_t x_stride,
                    int64_t q_stride, const std::string& what) {
    std::vector<int8_t> q_ref(size_t(n * q_stride), int8_t(0x5a)), q(size_t(n * q_stride), int8_t(0x33));
    std::vector<float> s_ref(size_t(n), std::nanf("")), s(size_t(n), std::nanf(""));
    ref::quantize_rows(x.data(), n, cols, x_stride, q_ref.data(), q_stride, s_ref.data());
    T.quantize_rows(x.data(), n, cols, x_stride, q.data(), q_stride, s.data());
    ASSERT_EQ(0, std::memcmp(q.data(), q_ref.data(), q.size())) << T.name << " " << what;
    ASSERT_EQ(0, std::memcmp(s.data(), s_ref.data(), s.size() * 4)) << T.name << " " << what;
}

TEST(KernelsX86, QuantizeRowsEqualsRef) {
    std::mt19937 rng(11);
    for (const auto* T : simd_tables()) {
        for (int64_t cols : {1, 5, 8, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257, 1000, 2560, 6912}) {
            for (int64_t n : {1, 3, 8}) {
                const int64_t x_stride = cols + 3, q_stride = round_up(cols, 256);
                std::vector<float> x(size_t(n * x_stride), std::nanf(""));  // gaps are NaN: must be ignored
                for (int64_t t = 0; t < n; ++t) {
                    // Widely different magnitudes per row, like real 2B4T activations.
                    const float mag = std::pow(10.0f, float(int(rng() % 9)) - 4.0f);
                    std::normal_distribution<float> nd(0.0f, mag);
                    for (int64_t j = 0; j < cols; ++j) x[size_t(t * x_stride + j)] = nd(rng);
                }
                check_quantize(*T, x, n, cols, x_stride, q_stride, "cols=" + std::to_string(cols));
            }
        }
    }
}

TEST(KernelsX86, QuantizeRowsEdgeValues) {
    for (const auto* T : simd_tables()) {
        const int64_t cols = 40, stride = 64;
        std::vector<std::vector<float>> rows;
        // Ties: amax 127 makes s = 1, so k + 0.5 hits round-half-to-even exactly.
        std::vector<float> ties(cols);
        for (int64_t j = 0; j < cols; ++j) ties[size_t(j)] = float(j % 9) - 4.5f;
        ties[3] = 127.0f;
        ties[7] = -126.5f;
        rows.push_back(ties);
        rows.push_back(std::vector<float>(cols, 0.0f));          // all zero: gamma = 1e-5
        rows.push_back(std::vector<float>(cols, -3e-7f));        // below gamma's floor
        rows.push_back(std::vector<float>(cols, 1e30f));         // huge
        std::vector<float> nan_row(cols, 2.0f);
        nan_row[5] = std::nanf("");                               // a NaN never wins the absmax, quantizes to 0
        nan_row[20] = -8.0f;
        rows.push_back(nan_row);
        std::vector<float> inf_row(cols, 1.0f);
        inf_row[9] = std::numeric_limits<float>::infinity();      // s = 0: every code 0
        rows.push_back(inf_row);
        std::vector<float> denorm(cols, 1e-40f);
        denorm[0] = -1e-38f;
        rows.push_back(denorm);
        std::vector<float> x;
        for (auto& r : rows) {
            r.resize(stride, 77.0f);  // beyond cols: must not be read
            x.insert(x.end(), r.begin(), r.end());
        }
        const int64_t n = int64_t(rows.size());
        for (int64_t c : {cols, int64_t(1), int64_t(17), int64_t(33)})
            check_quantize(*T, x, n, c, stride, 64, "edge cols=" + std::to_string(c));
    }
}

// ---------------------------------------------------------------- ternary families

TernaryMatrix random_matrix(int64_t rows, int64_t cols, std::mt19937& rng, int mode) {
    TernaryMatrix m(rows, cols, 0.5f);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            int w;
            switch (mode) {
                case 1: w = 1; break;                   // all +1
                case 2: w = -1; break;                  // all -1
                case 3: w = (r + c) % 2 ? 1 : -1; break;
                default: w = int(rng() % 3) - 1; break;
            }
            m.set(r, c, w);
        }
    return m;
}

// q: [n, padded_cols] int8, zero past cols.
std::vector<int8_t> random_acts(int64_t n, int64_t cols, int64_t padded_cols, std::mt19937& rng, int mode) {
    std::vector<int8_t> q(size_t(n * padded_cols), 0);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < cols; ++j) {
            int8_t v;
            switch (mode) {
                case 1: v = 127; break;
                case 2: v = -128; break;
                case 3: v = (j % 2) ? 127 : -128; break;
                case 4: v = -127; break;
                default: v = int8_t(int(rng() % 256) - 128); break;
            }
            q[size_t(t * padded_cols + j)] = v;
        }
    return q;
}

// y[t][r] of one family of one table over [rb, re), poisoned elsewhere.
std::vector<int32_t> run_family(const KernelTable& T, TernaryFamily fam, const TernaryMatrix& m,
                                const std::vector<int8_t>& q, int64_t n, int64_t y_stride, int64_t rb, int64_t re) {
    const TernaryKernels& k = T.ternary[int(fam)];
    const PackedTernary p = k.repack(m);
    EXPECT_EQ(p.rows, m.rows);
    EXPECT_EQ(p.padded_cols, m.padded_cols);
    const int64_t pb = k.prepared_bytes(m.padded_cols);
    EXPECT_EQ(pb % 64, 0) << T.name;
    AlignedBuffer prepared(size_t(n * pb));
    std::memset(prepared.data(), 0xa5, prepared.size());  // prepare must write what matmul reads
    k.prepare(q.data(), n, m.padded_cols, m.padded_cols, prepared.data());
    std::vector<int32_t> y(size_t(n * y_stride), kSentinel);
    k.matmul(p, prepared.data(), n, y.data(), y_stride, rb, re);
    return y;
}

// The truth: ref I2S over the same range (itself checked against brute force
// in ref_kernels_test), sentinel elsewhere.
std::vector<int32_t> expected(const TernaryMatrix& m, const std::vector<int8_t>& q, int64_t n, int64_t y_stride,
                              int64_t rb, int64_t re) {
    return run_family(*table_ref(), TernaryFamily::i2s, m, q, n, y_stride, rb, re);
}

void check_all_families(const TernaryMatrix& m, const std::vector<int8_t>& q, int64_t n, const std::string& what,
                        std::mt19937& rng) {
    const int64_t y_stride = m.rows + 3;
    std::vector<std::pair<int64_t, int64_t>> ranges = {{0, m.rows}};
    if (m.rows > 2) {
        const int64_t a = int64_t(rng() % uint32_t(m.rows)), b = int64_t(rng() % uint32_t(m.rows));
        ranges.push_back({std::min(a, b), std::max(a, b) + 1});
        ranges.push_back({1, m.rows - 1});
    }
    for (const auto& [rb, re] : ranges) {
        const auto want = expected(m, q, n, y_stride, rb, re);
        for (const auto* T : simd_tables())
            for (int f = 0; f < kTernaryFamilies; ++f) {
                const auto got = run_family(*T, TernaryFamily(f), m, q, n, y_stride, rb, re);
                if (got != want) {
                    size_t i = 0;
                    while (got[i] == want[i]) ++i;
                    FAIL() << T->name << " " << family_name(TernaryFamily(f)) << " " << what << " rows [" << rb << ", "
                           << re << "): first difference at t=" << i / size_t(y_stride) << " r=" << i % size_t(y_stride)
                           << ": got " << got[i] << ", want " << want[i];
                }
            }
    }
}

TEST(KernelsX86, TernaryFamiliesRandomShapes) {
    std::mt19937 rng(2024);
    const std::vector<std::pair<int64_t, int64_t>> shapes = {
        {1, 1},     {7, 100},   {8, 256},   {16, 256},  {17, 257},  {33, 300},  {64, 512},
        {65, 511},  {100, 1000}, {129, 777}, {31, 2560}, {200, 129}, {3, 4096},
        // Enough tiles that decode spreads several streams over the range
        // (step > 1) and leaves a remainder.
        {600, 256}, {1030, 300},
    };
    for (const auto& [rows, cols] : shapes)
        for (int64_t n : {1, 2, 3, 8}) {
            const TernaryMatrix m = random_matrix(rows, cols, rng, 0);
            const auto q = random_acts(n, cols, m.padded_cols, rng, 0);
            check_all_families(m, q, n, std::to_string(rows) + "x" + std::to_string(cols) + " n=" + std::to_string(n), rng);
        }
}

TEST(KernelsX86, TernaryFamiliesManyTokens) {
    std::mt19937 rng(7);
    for (int64_t n : {33, 128})
        for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{37, 300}, {96, 512}, {130, 1024}}) {
            const TernaryMatrix m = random_matrix(rows, cols, rng, 0);
            const auto q = random_acts(n, cols, m.padded_cols, rng, 0);
            check_all_families(m, q, n, std::to_string(rows) + "x" + std::to_string(cols) + " n=" + std::to_string(n), rng);
        }
}

// No accumulator may overflow: all activations at the int8 extremes against
// all-equal weights, on a row long enough to overflow any int16 partial sum
// (6912 = 2B4T's FFN width; 14336 = 8B's).
TEST(KernelsX86, TernaryFamiliesExtremeValues) {
    std::mt19937 rng(99);
    for (int64_t cols : {300, 6912, 14336})
        for (int wmode : {1, 2, 3, 0})
            for (int amode : {1, 2, 3, 4}) {
                const TernaryMatrix m = random_matrix(19, cols, rng, wmode);
                const auto q = random_acts(3, cols, m.padded_cols, rng, amode);
                check_all_families(m, q, 3,
                                   "extreme cols=" + std::to_string(cols) + " w" + std::to_string(wmode) + " a" +
                                       std::to_string(amode),
                                   rng);
            }
}

#if defined(__x86_64__)
// TL1 / TL2 in two steps (DESIGN.md, after T-MAC): the x86 table build equals
// ref's entries; the x86 lookup over a table built by ref equals ref's lookup.
TEST(KernelsX86, TlTableBuildEqualsRef) {
    std::mt19937 rng(5);
    using BuildFn = void (*)(const int8_t*, int64_t, uint8_t*);
    struct Isa {
        const char* table;
        BuildFn tl1, tl2;
    };
    const Isa isas[] = {{"avx2", avx2::tl1_build_table, avx2::tl2_build_table},
                        {"avx512", avx512::tl1_build_table, avx512::tl2_build_table}};
    for (const Isa& isa : isas) {
        bool runs = false;
        for (const auto* T : simd_tables()) runs |= std::string(T->name) == isa.table;
        if (!runs) continue;
        for (int64_t padded : {256, 512, 2560, 6912})
            for (int mode : {0, 1, 2, 3}) {
                const auto a = random_acts(1, padded - 5, padded, rng, mode);
                std::vector<int16_t> r1(size_t(padded / 2 * ref::kTl1Entries));
                ref::tl1_build_table(a.data(), padded, r1.data());
                AlignedBuffer t1(size_t(x86::tl1_prepared_bytes(padded)));
                std::memset(t1.data(), 0xcc, t1.size());
                isa.tl1(a.data(), padded, t1.data());
                for (int64_t p = 0; p < padded / 2; ++p)
                    for (int i = 0; i < 16; ++i)
                        ASSERT_EQ(x86::tl1_table_entry(t1.data(), p, i), i < 9 ? r1[size_t(p * 9 + i)] : 0)
                            << isa.table << " tl1 pair " << p << " idx " << i;
                const int64_t G = ref::tl2_groups(padded);
                std::vector<int16_t> r2(size_t(G * ref::kTl2Entries));
                ref::tl2_build_table(a.data(), padded, r2.data());
                AlignedBuffer t2(size_t(x86::tl2_prepared_bytes(padded)));
                std::memset(t2.data(), 0xcc, t2.size());
                isa.tl2(a.data(), padded, t2.data());
                for (int64_t g = 0; g < x86::tl2_groups_even(padded); ++g)
                    for (int i = 0; i < 16; ++i)
                        ASSERT_EQ(x86::tl2_table_entry(t2.data(), g, i), g < G && i < 14 ? r2[size_t(g * 14 + i)] : 0)
                            << isa.table << " tl2 group " << g << " idx " << i;
            }
    }
}

TEST(KernelsX86, TlLookupOverRefTableEqualsRef) {
    std::mt19937 rng(6);
    for (const auto* T : simd_tables()) {
        for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{5, 256}, {70, 700}, {129, 2560}}) {
            const TernaryMatrix m = random_matrix(rows, cols, rng, 0);
            for (int mode : {0, 1, 2}) {
                const auto a = random_acts(1, cols, m.padded_cols, rng, mode);
                // TL1: ref table -> x86 layout -> this table's lookup.
                std::vector<int16_t> r1(size_t(m.padded_cols / 2 * ref::kTl1Entries));
                ref::tl1_build_table(a.data(), m.padded_cols, r1.data());
                AlignedBuffer t1(size_t(x86::tl1_prepared_bytes(m.padded_cols)));
                x86::tl1_table_from_ref(r1.data(), m.padded_cols, t1.data());
                const PackedTernary p1 = T->ternary[int(TernaryFamily::tl1)].repack(m);
                const PackedTernary pr1 = ref::tl1_repack(m);
                std::vector<int32_t> y(size_t(rows), kSentinel);
                T->ternary[int(TernaryFamily::tl1)].matmul(p1, t1.data(), 1, y.data(), rows, 0, rows);
                for (int64_t r = 0; r < rows; ++r)
                    ASSERT_EQ(y[size_t(r)], ref::tl1_lookup_row(pr1.data.data() + r * (m.padded_cols / 4), r1.data(),
                                                                m.padded_cols / 2))
                        << T->name << " tl1 row " << r;
                // TL2 the same way.
                const int64_t G = ref::tl2_groups(m.padded_cols);
                std::vector<int16_t> r2(size_t(G * ref::kTl2Entries));
                ref::tl2_build_table(a.data(), m.padded_cols, r2.data());
                AlignedBuffer t2(size_t(x86::tl2_prepared_bytes(m.padded_cols)));
                x86::tl2_table_from_ref(r2.data(), m.padded_cols, t2.data());
                const PackedTernary p2 = T->ternary[int(TernaryFamily::tl2)].repack(m);
                const PackedTernary pr2 = ref::tl2_repack(m);
                std::fill(y.begin(), y.end(), kSentinel);
                T->ternary[int(TernaryFamily::tl2)].matmul(p2, t2.data(), 1, y.data(), rows, 0, rows);
                const uint8_t* idx = pr2.data.data();
                const uint8_t* sgn = idx + rows * pr2.param[1];
                for (int64_t r = 0; r < rows; ++r)
                    ASSERT_EQ(y[size_t(r)], ref::tl2_lookup_row(idx + r * pr2.param[1], sgn + r * pr2.param[2],
                                                                r2.data(), G))
                        << T->name << " tl2 row " << r;
            }
        }
    }
}
#endif

// ---------------------------------------------------------------- float kernels

std::vector<uint8_t> float_matrix(GgmlType type, int64_t rows, int64_t cols, std::mt19937& rng, int64_t* row_bytes) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> w(size_t(rows * cols));
    for (auto& v : w) v = nd(rng) * (rng() % 7 == 0 ? 100.0f : 1.0f);
    std::vector<uint8_t> bytes;
    switch (type) {
        case GgmlType::F32:
            *row_bytes = cols * 4;
            bytes.resize(size_t(rows * *row_bytes));
            std::memcpy(bytes.data(), w.data(), bytes.size());
            break;
        case GgmlType::F16:
        case GgmlType::BF16:
            *row_bytes = cols * 2;
            bytes.resize(size_t(rows * *row_bytes));
            for (size_t i = 0; i < w.size(); ++i) {
                const uint16_t h = type == GgmlType::F16 ? f32_to_fp16(w[i]) : f32_to_bf16(w[i]);
                std::memcpy(bytes.data() + 2 * i, &h, 2);
            }
            if (type == GgmlType::F16 && bytes.size() >= 8) {  // subnormal and extreme halves
                const uint16_t special[4] = {0x0001, 0x83ff, 0x7bff, 0xfbff};
                std::memcpy(bytes.data(), special, 8);
            }
            break;
        case GgmlType::Q8_0:
            *row_bytes = cols / 32 * 34;
            bytes.resize(size_t(rows * *row_bytes));
            for (int64_t r = 0; r < rows; ++r)
                quantize_row_q8_0(w.data() + r * cols, reinterpret_cast<BlockQ8_0*>(bytes.data() + r * *row_bytes), cols);
            break;
        default: {  // Q6_K: random bytes are valid blocks; keep d sane.
            *row_bytes = cols / 256 * 210;
            bytes.resize(size_t(rows * *row_bytes));
            for (auto& v : bytes) v = uint8_t(rng());
            for (int64_t i = 0; i < rows * cols / 256; ++i) {
                const uint16_t d = f32_to_fp16(0.001f * float(1 + i % 5));
                std::memcpy(bytes.data() + i * 210 + 208, &d, 2);
            }
            break;
        }
    }
    return bytes;
}

TEST(KernelsX86, FloatMatmulAndDequantizeEqualRef) {
    std::mt19937 rng(31);
    const GgmlType types[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q6_K};
    for (GgmlType type : types) {
        const int64_t block = type == GgmlType::Q8_0 ? 32 : type == GgmlType::Q6_K ? 256 : 1;
        std::vector<int64_t> col_list = {256, 512, 2560};
        if (block == 1) col_list.insert(col_list.end(), {1, 5, 15, 16, 17, 31, 33, 100, 257});
        if (block == 32) col_list.insert(col_list.end(), {32, 64, 96, 160});
        for (int64_t cols : col_list)
            for (int64_t rows : {1, 3, 4, 5, 9, 17, 80}) {
                // 80 rows of 2560: several L2 row blocks for several tokens
                // (the next-block prefetch), only at that width to stay quick.
                if (rows == 80 && cols != 2560) continue;
                int64_t row_bytes = 0;
                const auto w = float_matrix(type, rows, cols, rng, &row_bytes);
                for (int64_t n : {1, 2, 3, 5, 8}) {
                    const int64_t x_stride = cols + 3, y_stride = rows + 2;
                    std::normal_distribution<float> nd(0.0f, 2.0f);
                    std::vector<float> x(size_t(n * x_stride), std::nanf(""));
                    for (int64_t t = 0; t < n; ++t)
                        for (int64_t j = 0; j < cols; ++j) x[size_t(t * x_stride + j)] = nd(rng);
                    for (const auto& [rb, re] :
                         std::vector<std::pair<int64_t, int64_t>>{{0, rows}, {rows / 3, rows - rows / 4}}) {
                        std::vector<float> want(size_t(n * y_stride), std::nanf("")), got = want;
                        ref::float_matmul(type, w.data(), row_bytes, cols, x.data(), n, x_stride, want.data(),
                                          y_stride, rb, re);
                        for (const auto* T : simd_tables()) {
                            std::fill(got.begin(), got.end(), std::nanf(""));
                            T->float_matmul(type, w.data(), row_bytes, cols, x.data(), n, x_stride, got.data(),
                                            y_stride, rb, re);
                            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4))
                                << T->name << " " << type_name(uint32_t(type)) << " " << rows << "x" << cols
                                << " n=" << n << " rows [" << rb << ", " << re << ")";
                        }
                    }
                }
                // dequantize_row, every row.
                std::vector<float> want(size_t(cols) + 1, std::nanf("")), got = want;
                for (int64_t r = 0; r < rows; ++r) {
                    ref::dequantize_row(type, w.data() + r * row_bytes, want.data(), cols);
                    for (const auto* T : simd_tables()) {
                        std::fill(got.begin(), got.end(), std::nanf(""));
                        T->dequantize_row(type, w.data() + r * row_bytes, got.data(), cols);
                        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4))
                            << T->name << " dequantize " << type_name(uint32_t(type)) << " cols=" << cols;
                    }
                }
            }
    }
}

// qdot (quantized output matrices x int16 activations): every table's
// prepare and matmul equal ref bit for bit, for Q8_0 and Q6_K, odd row counts,
// 1 to 16 tokens (the multi-token row blocking), row sub-ranges; and at the
// int32 limit: Q6_K scales -128 with codes 0 (|w| = 4096) against |a| = 32767.
TEST(KernelsX86, QdotMatmulEqualsRef) {
    std::mt19937 rng(37);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q6_K}) {
        const std::vector<int64_t> col_list = type == GgmlType::Q8_0 ? std::vector<int64_t>{32, 96, 256, 2560}
                                                                     : std::vector<int64_t>{256, 512, 2560};
        for (int64_t cols : col_list)
            for (int64_t rows : {1, 3, 4, 5, 9, 17, 70}) {
                int64_t row_bytes = 0;
                auto w = float_matrix(type, rows, cols, rng, &row_bytes);
                for (int64_t n : {1, 2, 3, 4, 5, 8, 16}) {
                    const int64_t x_stride = cols + 3, y_stride = rows + 2, stride = qdot_prepared_bytes(cols);
                    std::vector<float> x(size_t(n * x_stride), std::nanf(""));
                    for (int64_t t = 0; t < n; ++t)
                        for (int64_t j = 0; j < cols; ++j) x[size_t(t * x_stride + j)] = nd(rng);
                    const bool extreme = n == 2 && type == GgmlType::Q6_K;
                    if (extreme) {  // every weight -4096 (scale -128, code 0), every activation at +-32767
                        for (int64_t r = 0; r < rows; ++r)
                            for (int64_t b = 0; b < cols / 256; ++b) {
                                uint8_t* blk = w.data() + r * row_bytes + b * 210;
                                std::memset(blk, 0, 192);
                                std::memset(blk + 192, 0x80, 16);
                            }
                        for (int64_t j = 0; j < cols; ++j) x[size_t(j)] = 3.0f, x[size_t(x_stride + j)] = -3.0f;
                    }
                    AlignedBuffer want_prep(size_t(n * stride)), got_prep(size_t(n * stride));
                    ref::qdot_prepare(x.data(), n, cols, x_stride, want_prep.data());
                    for (const auto& [rb, re] :
                         std::vector<std::pair<int64_t, int64_t>>{{0, rows}, {rows / 3, rows - rows / 4}}) {
                        std::vector<float> want(size_t(n * y_stride), std::nanf("")), got = want;
                        ref::qdot_matmul(type, w.data(), row_bytes, cols, want_prep.data(), n, want.data(), y_stride,
                                         rb, re);
                        for (const auto* T : simd_tables()) {
                            ASSERT_NE(T->qdot_prepare, nullptr) << T->name;
                            ASSERT_NE(T->qdot_matmul, nullptr) << T->name;
                            std::memset(got_prep.data(), 0x55, got_prep.size());
                            T->qdot_prepare(x.data(), n, cols, x_stride, got_prep.data());
                            ASSERT_EQ(0, std::memcmp(got_prep.data(), want_prep.data(), got_prep.size())) << T->name;
                            std::fill(got.begin(), got.end(), std::nanf(""));
                            T->qdot_matmul(type, w.data(), row_bytes, cols, got_prep.data(), n, got.data(), y_stride,
                                           rb, re);
                            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4))
                                << T->name << " " << type_name(uint32_t(type)) << " " << rows << "x" << cols
                                << " n=" << n << " rows [" << rb << ", " << re << ")" << (extreme ? " extreme" : "");
                        }
                        if (extreme) {  // token 0: sum over blocks of 4096 * 32767 * 256 * d / s (w = -128 * -32)
                            const double s = double(32767.0f / 3.0f);
                            for (int64_t r = rb; r < re; ++r) {
                                double expect = 0;
                                for (int64_t b = 0; b < cols / 256; ++b)
                                    expect += 4096.0 * 32767.0 * 256.0 *
                                              double(fp16_to_f32(f32_to_fp16(0.001f * float(1 + (r * (cols / 256) + b) % 5)))) / s;
                                EXPECT_NEAR(want[size_t(r)], expect, 1e-5 * expect) << r;
                            }
                        }
                    }
                }
            }
    }
    // Types and shapes outside the contract throw the reference's error.
    std::vector<uint8_t> w(4096);
    AlignedBuffer prep(size_t(qdot_prepared_bytes(256)));
    std::vector<float> y(4);
    for (const auto* T : simd_tables()) {
        EXPECT_THROW(T->qdot_matmul(GgmlType::F16, w.data(), 512, 256, prep.data(), 1, y.data(), 1, 0, 1), Error);
        EXPECT_THROW(T->qdot_matmul(GgmlType::Q6_K, w.data(), 210, 128, prep.data(), 1, y.data(), 1, 0, 1), Error);
    }
}

// The attention kernels: ref equals the contract's sums written out here
// (index order from +0.0f, product then add), and every table equals ref bit
// for bit, on ragged key counts, head sizes that are not multiples of the key
// block, strides and accumulation; untouched outputs stay NaN.
TEST(KernelsX86, AttentionKernelsEqualRef) {
    std::mt19937 rng(41);
    std::normal_distribution<float> nd(0.0f, 1.5f);
    auto randv = [&](size_t count) {
        std::vector<float> v(count);
        for (auto& x : v) x = nd(rng);
        return v;
    };
    constexpr int64_t B = kAttnKeyBlock;
    for (int64_t D : {64, 80, 128})
        for (int64_t n : {1, 2, 3, 16}) {
            // Scores against one transposed key block.
            const int64_t q_stride = D + 5, s_stride = B + 3;
            const auto q = randv(size_t(n * q_stride)), kt = randv(size_t(D * B));
            for (int64_t keys : {1, 5, 63, 64}) {
                std::vector<float> want(size_t(n * s_stride), std::nanf("")), got = want;
                ref::attn_scores(q.data(), n, q_stride, D, kt.data(), keys, want.data(), s_stride);
                for (int64_t t = 0; t < n; ++t)
                    for (int64_t p = 0; p < s_stride; ++p) {
                        const float w = want[size_t(t * s_stride + p)];
                        if (p >= keys) {
                            ASSERT_TRUE(std::isnan(w)) << "ref wrote past keys";
                            continue;
                        }
                        float sum = 0.0f;
                        for (int64_t d = 0; d < D; ++d) {
                            const volatile float prod = q[size_t(t * q_stride + d)] * kt[size_t(d * B + p)];
                            sum += prod;
                        }
                        ASSERT_EQ(bits_of(w), bits_of(sum)) << "ref scores D=" << D << " t=" << t << " p=" << p;
                    }
                for (const auto* T : simd_tables()) {
                    std::fill(got.begin(), got.end(), std::nanf(""));
                    T->attn_scores(q.data(), n, q_stride, D, kt.data(), keys, got.data(), s_stride);
                    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4))
                        << T->name << " attn_scores D=" << D << " n=" << n << " keys=" << keys;
                }
            }
            // Values over keys rows, fresh and accumulating.
            for (int64_t keys : {1, 7, 64, 200}) {
                const int64_t a_stride = keys + 2, v_stride = D + 7, o_stride = D + 4;
                const auto a = randv(size_t(n * a_stride)), v = randv(size_t(keys * v_stride));
                const auto start = randv(size_t(n * o_stride));
                for (bool accumulate : {false, true}) {
                    std::vector<float> want(size_t(n * o_stride), std::nanf(""));
                    if (accumulate) want = start;
                    std::vector<float> init = want, got = want;
                    ref::attn_values(a.data(), n, a_stride, v.data(), v_stride, keys, D, want.data(), o_stride,
                                     accumulate);
                    for (int64_t t = 0; t < n; ++t)
                        for (int64_t d = 0; d < o_stride; ++d) {
                            const float w = want[size_t(t * o_stride + d)];
                            if (d >= D) {
                                ASSERT_EQ(bits_of(w), bits_of(init[size_t(t * o_stride + d)])) << "ref wrote past D";
                                continue;
                            }
                            float sum = accumulate ? start[size_t(t * o_stride + d)] : 0.0f;
                            for (int64_t p = 0; p < keys; ++p) {
                                const volatile float prod = a[size_t(t * a_stride + p)] * v[size_t(p * v_stride + d)];
                                sum += prod;
                            }
                            ASSERT_EQ(bits_of(w), bits_of(sum)) << "ref values D=" << D << " t=" << t << " d=" << d;
                        }
                    for (const auto* T : simd_tables()) {
                        got = init;
                        T->attn_values(a.data(), n, a_stride, v.data(), v_stride, keys, D, got.data(), o_stride,
                                       accumulate);
                        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4))
                            << T->name << " attn_values D=" << D << " n=" << n << " keys=" << keys
                            << " accumulate=" << accumulate;
                    }
                }
            }
        }
}

TEST(KernelsX86, FloatUnsupportedTypesThrowLikeRef) {
    std::vector<uint8_t> w(1024);
    std::vector<float> x(256), y(4);
    for (const auto* T : simd_tables()) {
        EXPECT_THROW(T->float_matmul(GgmlType::Q4_0, w.data(), 144, 256, x.data(), 1, 256, y.data(), 1, 0, 1), Error);
        EXPECT_THROW(T->dequantize_row(GgmlType::TQ2_0, w.data(), y.data(), 256), Error);
        EXPECT_THROW(T->dequantize_row(GgmlType::Q8_0, w.data(), y.data(), 33), Error);
    }
}

// ---------------------------------------------------------------- forward pass

struct TestModel {
    std::string name, file, ffn_act;
    std::vector<int32_t> tokens;
};

std::vector<TestModel> test_models() {
    const std::string dir = std::string(TERN_TEST_DATA_DIR) + "/models/";
    std::ifstream f(dir + "manifest.json");
    const auto j = nlohmann::json::parse(f);
    std::vector<TestModel> out;
    for (const auto& m : j["models"])
        out.push_back({m["name"], dir + m["file"].get<std::string>(), m["ffn_act"], m["tokens"].get<std::vector<int32_t>>()});
    return out;
}

std::vector<float> forward_logits(const TestModel& tm, const std::string& table, const std::string& family,
                                  int64_t n_batch) {
    LoadOptions o;
    o.ffn_act = parse_ffn_act(tm.ffn_act);
    o.table = table;
    o.kernel = parse_kernel_family(family);
    const Model model = Model::load(tm.file, o);
    EXPECT_EQ(model.info().kernel_table, table);
    Session s(model, {.n_ctx = 64, .n_batch = n_batch, .n_threads = 2});
    s.eval(tm.tokens, true);
    const int64_t V = model.info().n_vocab;
    return std::vector<float>(s.logits(0), s.logits(0) + int64_t(tm.tokens.size()) * V);
}

TEST(KernelsX86, ForwardPassOnEveryTableEqualsRef) {
    const auto models = test_models();
    ASSERT_FALSE(models.empty());
    for (const auto& tm : models) {
        SCOPED_TRACE(tm.name);
        const auto want = forward_logits(tm, "ref", "i2s", 512);
        for (const auto* T : simd_tables())
            for (const char* fam : {"i2s", "tl1", "tl2"})
                for (int64_t n_batch : {int64_t(512), int64_t(1)}) {  // prefill kernels and decode kernels
                    const auto got = forward_logits(tm, T->name, fam, n_batch);
                    ASSERT_EQ(got.size(), want.size());
                    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4))
                        << T->name << " " << fam << " n_batch=" << n_batch;
                }
    }
}

// Quantized output matrices (qdot) in a whole forward pass: tiny bitnet-25
// models with a Q6_K and a Q8_0 tied embedding, every table, prefill and
// decode kernels, equal ref bit for bit. (The golden models with Q8_0 heads
// check closeness to the float64 reference in forward_test.)
TEST(KernelsX86, ForwardPassQuantizedOutputEveryTableEqualsRef) {
    for (GgmlType type : {GgmlType::Q6_K, GgmlType::Q8_0}) {
        SCOPED_TRACE(type_name(uint32_t(type)));
        test::TinyShape shape;
        shape.embd_type = uint32_t(type);
        TestModel tm{type_name(uint32_t(type)), test::temp_path(std::string("qdot_") + type_name(uint32_t(type))) + ".gguf",
                     "relu2", {1, 17, 300, 5, 5, 42, 7, 260, 99}};
        test::write_bitnet_cpp_style_gguf(tm.file, shape, 9);
        const auto want = forward_logits(tm, "ref", "i2s", 512);
        for (const auto* T : simd_tables())
            for (int64_t n_batch : {int64_t(512), int64_t(1)}) {
                const auto got = forward_logits(tm, T->name, "i2s", n_batch);
                ASSERT_EQ(got.size(), want.size());
                EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4)) << T->name << " n_batch=" << n_batch;
            }
        std::remove(tm.file.c_str());
    }
}

// ---------------------------------------------------------------- self-test

TEST(KernelsX86, SelfTestPassesEveryTableAndCatchesABrokenKernel) {
    for (const auto* T : simd_tables())
        for (const auto& r : self_test(*T)) EXPECT_TRUE(r.passed && r.offered) << T->name << " " << r.kernel << ": " << r.detail;
    // A table with one wrong kernel must be reported, by name.
    static KernelTable broken;
    broken = *table_ref();
    broken.name = "broken";
    broken.ternary[int(TernaryFamily::tl1)].matmul = [](const PackedTernary& w, const uint8_t* prepared, int64_t n,
                                                        int32_t* y, int64_t y_stride, int64_t rb, int64_t re) {
        ref::tl1_matmul(w, prepared, n, y, y_stride, rb, re);
        if (re - rb > 2) y[rb + 1] += 1;
    };
    int failed = 0;
    for (const auto& r : self_test(broken)) {
        if (!r.passed) {
            ++failed;
            EXPECT_EQ(r.kernel, "tl1");
            EXPECT_NE(r.detail.find("differs"), std::string::npos);
        }
    }
    EXPECT_EQ(failed, 1);
}

TEST(KernelsX86, TernInfoSelfTestCommand) {
    std::string out;
    ASSERT_EQ(test::run_tern("info --self-test", &out), 0) << out;
    EXPECT_NE(out.find("self-test: all pass"), std::string::npos) << out;
    for (const auto* T : simd_tables()) EXPECT_NE(out.find(std::string("  ") + T->name), std::string::npos) << out;
    ASSERT_EQ(test::run_tern("info --self-test --json", &out), 0);
    EXPECT_NE(out.find("\"self_test\""), std::string::npos);
}

}  // namespace
}  // namespace tern::kernels
