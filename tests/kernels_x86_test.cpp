// Every kernel of every SIMD table this CPU runs equals the reference table
// bit for bit (DESIGN.md verification ladder, steps 1 and 2):
// - the conformance harness (kernels/conformance.h), full sizes: one test per
//   table and case (quantize_rows, each ternary family over odd shapes, many
//   tokens and extreme values, float_matmul / dequantize_row per type, qdot,
//   attention), outputs poisoned first; a failure names the table, kernel,
//   shape and first differing element;
// - TL1 / TL2 (x86 layouts): table build and table lookup as separate steps;
// - the whole forward pass of every test model on each table and family
//   equals the forward pass on the reference table.
// Tables the CPU lacks are skipped (listed in the output), never faked.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/conformance.h"
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "model/hparams.h"
#include "tern/model.h"
#include "tern/session.h"
#include "test_util.h"
#if defined(__x86_64__)
#include "kernels/x86/x86.h"
#endif

namespace tern::kernels {
namespace {

constexpr int32_t kSentinel = int32_t(0x7eadbeef);

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
    for (const auto* t : simd_tables())
        for (const auto& c : conformance_cases()) EXPECT_TRUE(table_offers(*t, c.kernel)) << t->name << " " << c.kernel;
}

// ---------------------------------------------------------------- the conformance harness

struct TableCase {
    const TableEntry* table;
    const ConformanceCase* kase;
};

std::vector<TableCase> table_cases() {
    static const std::vector<TableEntry> tables = available_tables();
    std::vector<TableCase> out;
    for (const auto& t : tables)
        if (std::string(t.table->name) != "ref")
            for (const auto& c : conformance_cases()) out.push_back({&t, &c});
    return out;
}

void PrintTo(const TableCase& tc, std::ostream* os) {
    *os << tc.table->table->name << " " << tc.kase->kernel << " " << tc.kase->name;
}

// "avx2_tl1_odd_shapes"
std::string test_name(const testing::TestParamInfo<TableCase>& info) {
    std::string s = std::string(info.param.table->table->name) + "_" + info.param.kase->kernel + "_" + info.param.kase->name;
    for (char& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return s;
}

class Conformance : public testing::TestWithParam<TableCase> {};

TEST_P(Conformance, EqualsRef) {
    const TableEntry& t = *GetParam().table;
    if (!t.runs_here) GTEST_SKIP() << t.table->name << " needs " << t.requires_ << ", which this CPU lacks";
    const CaseResult r = run_case(*GetParam().kase, *t.table, CaseSize::full);
    for (const auto& f : r.failures) ADD_FAILURE() << f;
    RecordProperty("comparisons", std::to_string(r.passed + r.failed));
    EXPECT_EQ(r.failed, 0) << "comparisons that differ (the first " << r.failures.size() << " listed)";
    EXPECT_GT(r.passed, 0);
}

INSTANTIATE_TEST_SUITE_P(KernelsX86, Conformance, testing::ValuesIn(table_cases()), test_name);

// The reference table with one wrong output in its TL2 matmul (token 1, the
// sixth row of the range, off by one): what the harness must catch and name.
const KernelTable& broken_table() {
    static const KernelTable broken = [] {
        KernelTable t = *table_ref();
        t.name = "broken";
        t.ternary[int(TernaryFamily::tl2)].matmul = [](const PackedTernary& w, const uint8_t* prepared, int64_t n,
                                                       int32_t* y, int64_t y_stride, int64_t rb, int64_t re) {
            ref::tl2_matmul(w, prepared, n, y, y_stride, rb, re);
            if (re - rb > 5 && n > 1) y[y_stride + rb + 5] -= 1;
        };
        return t;
    }();
    return broken;
}

TEST(KernelsX86, ConformanceCatchesABrokenKernel) {
    const KernelTable& broken = broken_table();
    int cases = 0;
    for (const auto& c : conformance_cases()) {
        const CaseResult r = run_case(c, broken, CaseSize::full);
        if (c.kernel != "tl2") {
            EXPECT_EQ(r.failed, 0) << c.kernel << " " << c.name;
            continue;
        }
        ++cases;
        ASSERT_GT(r.failed, 0) << c.name;
        EXPECT_NE(r.failures[0].find("broken tl2 " + c.name + ": "), std::string::npos) << r.failures[0];
        EXPECT_NE(r.failures[0].find("differs from ref first at token 1, row "), std::string::npos) << r.failures[0];
    }
    EXPECT_EQ(cases, 3);
}

#if defined(__x86_64__)
// TL1 / TL2 in two steps (DESIGN.md, after T-MAC): the x86 table build equals
// ref's entries; the x86 lookup over a table built by ref equals ref's lookup.
TEST(KernelsX86, TlTableBuildEqualsRef) {
    std::mt19937_64 rng(5);
    const ActFill fills[] = {ActFill::random, ActFill::max, ActFill::min, ActFill::alternating};
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
                const auto a = test_activations(rng, 1, padded - 5, padded, fills[mode]);
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
    std::mt19937_64 rng(6);
    const ActFill fills[] = {ActFill::random, ActFill::max, ActFill::min};
    for (const auto* T : simd_tables()) {
        for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{5, 256}, {70, 700}, {129, 2560}}) {
            const TernaryMatrix m = test_matrix(rng, rows, cols, WeightFill::random);
            for (int mode : {0, 1, 2}) {
                const auto a = test_activations(rng, 1, cols, m.padded_cols, fills[mode]);
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
    int failed = 0;
    for (const auto& r : self_test(broken_table())) {
        if (!r.passed) {
            ++failed;
            EXPECT_EQ(r.kernel, "tl2");
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
