// The arm64 kernel tables (kernels/arm) against the scalar reference, bit for
// bit: every case of the conformance harness (kernels/conformance.h, full
// sizes) on each table this CPU runs, plus what only arm64 has: dispatch on
// its CPU features, the neon layouts decoded back, the TL steps one by one,
// the int8 peak probes' checksums.
// Standalone on purpose: it is cross-compiled with aarch64-linux-gnu-g++
// and run under qemu-aarch64 (tests/arm/run.sh), where GoogleTest is not
// installed, so it has its own tiny check helper and prints
//   "arm kernel tests (<cpu>): N passed, M failed"
// at the end; the exit status is non-zero on any failure.
//
// Usage: arm_kernels_test [--expect-dotprod=0|1] [--seed=N]
//        arm_kernels_test --print-active   (prints the active table, or
//                                           "error: ..." and exits 3)
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "kernels/arm/neon.h"
#include "kernels/conformance.h"
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "tern/error.h"

namespace tk = tern::kernels;

namespace {

// ---------------------------------------------------------------- the check helper

int g_pass = 0, g_fail = 0;

bool check(bool ok, const std::string& what) {
    if (ok) {
        ++g_pass;
    } else {
        ++g_fail;
        if (g_fail <= 60) std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    }
    return ok;
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

std::mt19937_64 rng(20240611);

// ---------------------------------------------------------------- cpu features and dispatch

void test_features(int expect_dotprod) {
    const tk::CpuFeatures& f = tk::cpu_features();
    check(f.arch == "aarch64", "cpu_features().arch is aarch64, got " + f.arch);
    check(f.neon, "cpu_features().neon is set (ASIMD is mandatory on armv8-a)");
    bool named = false;
    for (const auto& n : f.names()) named |= n == "neon";
    check(named, "names() lists neon");
    check(!f.avx2 && !f.avx512f && !f.sse42, "no x86 flags on arm64");
    if (expect_dotprod >= 0)
        check(f.dotprod == (expect_dotprod == 1), fmt("dotprod detected = %d, expected %d", int(f.dotprod), expect_dotprod));

    const auto tables = tk::available_tables();
    std::vector<std::string> names;
    for (const auto& e : tables) names.push_back(e.table->name);
    check(names.size() == 3 && names[0] == "neon_dotprod" && names[1] == "neon" && names[2] == "ref",
          "available_tables() is neon_dotprod, neon, ref (best first)");
    for (const auto& e : tables) {
        const std::string n = e.table->name;
        if (n == "neon_dotprod") check(e.runs_here == (f.neon && f.dotprod), "neon_dotprod runs_here == dotprod");
        if (n == "neon" || n == "ref") check(e.runs_here, n + " runs here");
    }
    const char* forced = std::getenv("TERN_ISA");
    if (!forced || !*forced) {
        const std::string want = f.dotprod ? "neon_dotprod" : "neon";
        check(want == tk::active_table().name, "active table is " + want + ", got " + tk::active_table().name);
    }
    bool threw = false;
    std::string msg;
    try {
        const tk::KernelTable& t = tk::table_by_name("neon_dotprod");
        check(f.dotprod && std::string(t.name) == "neon_dotprod", "table_by_name(neon_dotprod) returns it");
    } catch (const std::exception& e) {
        threw = true;
        msg = e.what();
    }
    if (!f.dotprod)
        check(threw && msg.find("dotprod") != std::string::npos,
              "forcing neon_dotprod without dotprod is an error naming what is missing: " + msg);
    threw = false;
    try {
        tk::table_by_name("avx2");
    } catch (const std::exception& e) {
        threw = std::string(e.what()).find("unknown kernel table") != std::string::npos;
    }
    check(threw, "table_by_name(avx2) on arm64 is an 'unknown kernel table' error");
}

// Repacked layouts decoded back (neon.h) equal the canonical matrix.
void test_repack_roundtrip() {
    for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {17, 300}, {33, 1000}, {16, 2560}}) {
        const tk::TernaryMatrix m = tk::test_matrix(rng, rows, cols, tk::WeightFill::random);
        const int64_t pc = m.padded_cols;
        const std::string shape = fmt("%lldx%lld", (long long)rows, (long long)cols);
        {
            const tk::PackedTernary p = tk::neon::i2s_repack(m);
            int64_t bad = 0;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < pc; ++c) {
                    const uint8_t b = p.data.data()[r * (pc / 4) + (c / 64) * 16 + c % 16];
                    bad += int((b >> (2 * ((c % 64) / 16))) & 3) - 1 != m.get(r, c);
                }
            check(bad == 0 && p.param[0] == 64, "neon i2s repack decodes back " + shape);
        }
        {
            const tk::PackedTernary p = tk::neon::tl1_repack(m);
            int64_t bad = 0;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t pr = 0; pr < pc / 2; ++pr) {
                    const uint8_t b = p.data.data()[(r / 16) * p.param[2] + (pr / 2) * 16 + r % 16];
                    const int idx = (b >> (4 * (pr % 2))) & 0xF;
                    bad += idx / 3 - 1 != m.get(r, 2 * pr) || idx % 3 - 1 != m.get(r, 2 * pr + 1);
                }
            check(bad == 0 && p.param[1] == (rows + 15) / 16, "neon tl1 repack decodes back " + shape);
        }
        {
            const tk::PackedTernary p = tk::neon::tl2_repack(m);
            const int64_t groups = (pc + 2) / 3;
            int64_t bad = 0;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t g = 0; g < groups; ++g) {
                    const uint8_t* blk = p.data.data() + (r / 16) * p.param[2] + (g / 32) * 320;
                    const int64_t gi = g % 32;
                    const int idx = (blk[16 * (gi / 2) + r % 16] >> (4 * (gi % 2))) & 0xF;
                    const bool neg = (blk[256 + 16 * (gi / 8) + r % 16] >> (gi % 8)) & 1;
                    const int v = neg ? 26 - idx : idx;
                    const int w[3] = {v / 9 - 1, v / 3 % 3 - 1, v % 3 - 1};
                    for (int k = 0; k < 3; ++k) {
                        const int64_t c = 3 * g + k;
                        bad += w[k] != (c < pc ? m.get(r, c) : 0);
                    }
                    bad += idx > 13;
                }
            check(bad == 0 && p.param[3] % 32 == 0 && p.param[3] >= groups, "neon tl2 repack decodes back " + shape);
        }
    }
}

// One result of the conformance harness into the pass / fail counts.
void count(const tk::CaseResult& r) {
    g_pass += int(r.passed);
    g_fail += int(r.failed);
    for (const auto& msg : r.failures) std::fprintf(stderr, "FAIL: %s\n", msg.c_str());
}

// The neon TL layout for the harness's two-step check (build, lookup).
const tk::TlLayout kNeonTl = {tk::neon::tl1_build_table, tk::neon::tl1_prepared_bytes, tk::neon::tl1_table_from_ref,
                              tk::neon::tl1_table_entry, tk::neon::tl2_build_table,   tk::neon::tl2_prepared_bytes,
                              tk::neon::tl2_table_from_ref, tk::neon::tl2_table_entry, tk::neon::tl2_padded_groups,
                              32};

// ref's float order forbids FMA; GCC contracts a * b + c in C++ unless told
// not to (-ffp-contract=off). Lane 0 sums -1 and round(u * u), u = 1 + 2^-12:
// 2^-11 without FMA, 2^-11 + 2^-24 with it.
void test_no_fma_in_ref() {
    std::vector<float> w(17, 0.0f), x(17, 0.0f);
    w[0] = -1.0f;
    x[0] = 1.0f;
    w[16] = x[16] = 1.0f + 0x1p-12f;
    const float got = tk::ref::dot_lanes(w.data(), x.data(), 17);
    check(got == 0x1p-11f, fmt("ref::dot_lanes is not contracted to FMA (got %a, want 0x1p-11): build with "
                               "-ffp-contract=off",
                               double(got)));
}

// The peak probes behind `tern bench --probes` do every multiply-add they
// count: each of their 24 chains adds x * y = (seed | 1) * 3 per byte product,
// 8 into an int16 lane (SMLAL) or 4 into an int32 lane (SDOT) per iteration.
void test_peak_probes(bool dotprod) {
    const int64_t iters = 3001;
    const int32_t seed = 6, xy = (seed | 1) * 3;
    const int64_t neon = tk::neon::int8_peak_probe(iters, seed);
    check(neon == 24 * int64_t(int16_t(uint16_t(iters * xy))) && tk::neon::int8_peak_probe_macs(iters) == iters * 24 * 8,
          fmt("neon int8 peak probe checksum %lld", (long long)neon));
    if (!dotprod) return;
    const int64_t dot = tk::neon_dotprod::int8_peak_probe(iters, seed);
    check(dot == 24 * int64_t(int32_t(uint32_t(iters * 4 * xy))) &&
              tk::neon_dotprod::int8_peak_probe_macs(iters) == iters * 24 * 16,
          fmt("neon_dotprod int8 peak probe checksum %lld", (long long)dot));
}

}  // namespace

int main(int argc, char** argv) {
    int expect_dotprod = -1;
    uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--print-active") {
            try {
                std::printf("%s\n", tk::active_table().name);
                return 0;
            } catch (const std::exception& e) {
                std::printf("error: %s\n", e.what());
                return 3;
            }
        } else if (a.rfind("--expect-dotprod=", 0) == 0) {
            expect_dotprod = std::atoi(a.c_str() + 17);
        } else if (a.rfind("--seed=", 0) == 0) {
            seed = std::strtoull(a.c_str() + 7, nullptr, 10);
            rng.seed(seed);
        } else {
            std::fprintf(stderr, "usage: %s [--expect-dotprod=0|1] [--seed=N] | --print-active\n", argv[0]);
            return 2;
        }
    }
    const tk::CpuFeatures& f = tk::cpu_features();
    std::string cpu;
    for (const auto& n : f.names()) cpu += (cpu.empty() ? "" : "+") + n;

    test_features(expect_dotprod);
    test_no_fma_in_ref();
    test_repack_roundtrip();
    test_peak_probes(f.dotprod);
    for (const auto& e : tk::available_tables()) {
        if (!e.runs_here || std::string(e.table->name) == "ref") continue;
        const tk::KernelTable& t = *e.table;
        const int before = g_fail;
        for (const auto& c : tk::conformance_cases()) count(tk::run_case(c, t, tk::CaseSize::full, seed));
        count(tk::check_tl_steps(t, kNeonTl, seed));
        std::printf("table %-12s %s\n", t.name, g_fail == before ? "ok" : "FAILED");
    }
    std::printf("arm kernel tests (%s): %d passed, %d failed\n", cpu.c_str(), g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
