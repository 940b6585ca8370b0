// The arm64 kernel tables (kernels/arm) against the scalar reference, bit for
// bit. Standalone on purpose: it is cross-compiled with aarch64-linux-gnu-g++
// and run under qemu-aarch64 (tests/arm/run.sh), where GoogleTest is not
// installed, so it has its own tiny check helper and prints
//   "arm kernel tests (<cpu>): N passed, M failed"
// at the end; the exit status is non-zero on any failure.
//
// Usage: arm_kernels_test [--expect-dotprod=0|1] [--seed=N]
//        arm_kernels_test --print-active   (prints the active table, or
//                                           "error: ..." and exits 3)
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/arm/neon.h"
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "tern/error.h"

namespace tk = tern::kernels;
using tern::AlignedBuffer;
using tern::GgmlType;

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

int64_t irand(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }  // [lo, hi]

constexpr int32_t kSentinel = int32_t(0x7eadbeef);

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
bool same_float(float a, float b) { return bits(a) == bits(b) || (std::isnan(a) && std::isnan(b)); }

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

void test_entries(const tk::KernelTable& t) {
    bool ok = t.quantize_rows && t.float_matmul && t.dequantize_row && t.qdot_prepare && t.qdot_matmul &&
              t.attn_scores && t.attn_values;
    for (const auto& k : t.ternary) ok = ok && k.repack && k.prepared_bytes && k.prepare && k.matmul;
    check(ok, std::string(t.name) + ": every entry is set");
}

// ---------------------------------------------------------------- quantize_rows

enum class XMode { normal, ties, tiny, zero, specials, huge, subnormal };

void fill_x(std::vector<float>& x, int64_t n, int64_t cols, int64_t stride, XMode mode) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int64_t t = 0; t < n; ++t) {
        float* r = x.data() + t * stride;
        const float sigma = std::pow(10.0f, float(irand(-3, 4)));
        for (int64_t j = 0; j < cols; ++j) {
            switch (mode) {
                case XMode::normal: r[j] = nd(rng) * sigma * (irand(0, 30) == 0 ? 20.0f : 1.0f); break;
                case XMode::ties: r[j] = float(irand(-127, 126)) + 0.5f; break;  // s = 1 once 127 is in
                case XMode::tiny: r[j] = nd(rng) * 1e-6f; break;
                case XMode::zero: r[j] = irand(0, 1) ? 0.0f : -0.0f; break;
                case XMode::specials: {
                    const float v[] = {std::nanf(""), -std::nanf(""), 1.0f, -2.5f, 0.0f, -0.0f, 3e38f, -3e38f, 1e-40f};
                    r[j] = irand(0, 4) ? nd(rng) : v[irand(0, 8)];
                    break;
                }
                case XMode::huge: r[j] = nd(rng) * 1e37f; break;
                case XMode::subnormal: r[j] = nd(rng) * 1e-39f; break;
            }
        }
        if (mode == XMode::ties && cols > 0) r[irand(0, cols - 1)] = irand(0, 1) ? 127.0f : -127.0f;
        if (mode == XMode::specials && cols > 2 && t % 2 == 1)
            r[irand(0, cols - 1)] = irand(0, 1) ? std::numeric_limits<float>::infinity()
                                                : -std::numeric_limits<float>::infinity();
    }
}

void test_quantize(const tk::KernelTable& t) {
    const int64_t col_list[] = {0, 1, 3, 15, 16, 17, 31, 64, 100, 255, 256, 1000, 2560, 2563};
    const XMode modes[] = {XMode::normal, XMode::ties,  XMode::tiny,      XMode::zero,
                           XMode::specials, XMode::huge, XMode::subnormal};
    for (int64_t cols : col_list)
        for (XMode mode : modes)
            for (int64_t n : {1, 2, 3, 8}) {
                const int64_t x_stride = cols + irand(0, 3);
                const int64_t q_stride = irand(0, 1) ? cols : tern::round_up(cols, 256) + irand(0, 7);
                std::vector<float> x(size_t(n * x_stride + 1), std::nanf(""));  // gaps are NaN: must be ignored
                fill_x(x, n, cols, x_stride, mode);
                std::vector<int8_t> qr(size_t(n * q_stride + 1), int8_t(0x5a)), qs = qr;
                std::vector<float> sr(size_t(n), std::nanf("")), ss = sr;
                tk::ref::quantize_rows(x.data(), n, cols, x_stride, qr.data(), q_stride, sr.data());
                t.quantize_rows(x.data(), n, cols, x_stride, qs.data(), q_stride, ss.data());
                bool ok = std::memcmp(qr.data(), qs.data(), qr.size()) == 0;
                for (int64_t i = 0; i < n; ++i) ok = ok && bits(sr[size_t(i)]) == bits(ss[size_t(i)]);
                std::string where;
                for (size_t i = 0; i < qr.size() && where.empty(); ++i)
                    if (qr[i] != qs[i]) where = fmt(" first diff at %zu: ref %d got %d", i, qr[i], qs[i]);
                check(ok, fmt("%s quantize_rows cols=%lld n=%lld mode=%d", t.name, (long long)cols, (long long)n,
                              int(mode)) + where);
            }
}

// ---------------------------------------------------------------- ternary families

enum class WMode { random, plus, minus, zero, sparse };
enum class AMode { random, max, min, alternating, small };

tk::TernaryMatrix make_matrix(int64_t rows, int64_t cols, WMode mode) {
    tk::TernaryMatrix m(rows, cols, 0.75f);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            int w = 0;
            switch (mode) {
                case WMode::random: w = int(irand(-1, 1)); break;
                case WMode::plus: w = 1; break;
                case WMode::minus: w = -1; break;
                case WMode::zero: w = 0; break;
                case WMode::sparse: w = irand(0, 9) == 0 ? int(irand(0, 1)) * 2 - 1 : 0; break;
            }
            m.set(r, c, w);
        }
    return m;
}

std::vector<int8_t> make_acts(int64_t n, int64_t cols, int64_t q_stride, AMode mode) {
    std::vector<int8_t> q(size_t(n * q_stride), 0);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < cols; ++j) {
            int v = 0;
            switch (mode) {
                case AMode::random: v = int(irand(-128, 127)); break;
                case AMode::max: v = 127; break;
                case AMode::min: v = -128; break;
                case AMode::alternating: v = j % 2 ? 127 : -128; break;
                case AMode::small: v = int(irand(-3, 3)); break;
            }
            q[size_t(t * q_stride + j)] = int8_t(v);
        }
    return q;
}

const char* kFamilies[] = {"i2s", "tl1", "tl2"};

// One matrix, one batch: every family of `t` against ref::i2s on several row ranges.
void run_ternary(const tk::KernelTable& t, const tk::TernaryMatrix& m, const std::vector<int8_t>& q, int64_t n,
                 int64_t q_stride, const std::string& label) {
    const int64_t rows = m.rows, pc = m.padded_cols;
    // Expected: the reference I2S family (ref's TL1/TL2 equal it; its own tests say so).
    std::vector<int32_t> want(size_t(n * rows));
    {
        const tk::PackedTernary rp = tk::ref::i2s_repack(m);
        AlignedBuffer prep(size_t(n * tk::ref::i2s_prepared_bytes(pc)) + 1);
        tk::ref::i2s_prepare(q.data(), n, q_stride, pc, prep.data());
        tk::ref::i2s_matmul(rp, prep.data(), n, want.data(), rows, 0, rows);
    }
    std::vector<std::pair<int64_t, int64_t>> ranges = {{0, rows}};
    if (rows > 1) {
        ranges.push_back({1, rows});
        ranges.push_back({0, rows - 1});
        const int64_t a = irand(0, rows - 1), b = irand(a, rows);
        ranges.push_back({a, b});
        ranges.push_back({rows / 2, rows / 2});  // empty
    }
    for (int f = 0; f < tk::kTernaryFamilies; ++f) {
        const tk::TernaryKernels& k = t.ternary[f];
        const tk::PackedTernary p = k.repack(m);
        const std::string name = fmt("%s %s %s", t.name, kFamilies[f], label.c_str());
        check(p.rows == m.rows && p.cols == m.cols && p.padded_cols == m.padded_cols && p.scale == m.scale,
              name + ": repack keeps the header");
        const int64_t pb = k.prepared_bytes(pc);
        check(pb >= 0 && pb % 64 == 0, name + fmt(": prepared_bytes %lld is a multiple of 64", (long long)pb));
        AlignedBuffer prep(size_t(n * pb) + 64);
        std::memset(prep.data(), 0xA5, prep.size());  // poison: unwritten bytes would show
        k.prepare(q.data(), n, q_stride, pc, prep.data());
        for (const auto& [rb, re] : ranges) {
            const int64_t y_stride = rows + 3;
            std::vector<int32_t> y(size_t(n * y_stride), kSentinel);
            k.matmul(p, prep.data(), n, y.data(), y_stride, rb, re);
            int64_t bad = 0;
            std::string first;
            for (int64_t tt = 0; tt < n; ++tt)
                for (int64_t r = 0; r < y_stride; ++r) {
                    const int32_t got = y[size_t(tt * y_stride + r)];
                    const int32_t exp = r >= rb && r < re ? want[size_t(tt * rows + r)] : kSentinel;
                    if (got != exp && bad++ == 0)
                        first = fmt(" (first: token %lld row %lld: want %d got %d)", (long long)tt, (long long)r, exp,
                                    got);
                }
            check(bad == 0, name + fmt(" rows [%lld, %lld): %lld wrong", (long long)rb, (long long)re, (long long)bad) +
                                first);
        }
    }
}

void test_ternary(const tk::KernelTable& t) {
    struct Shape {
        int64_t rows, cols;
        std::vector<int64_t> ns;
    };
    const Shape shapes[] = {
        {1, 1, {1, 2, 3}},        {3, 100, {1, 2, 3, 8}},    {16, 256, {1, 8, 33}},
        {17, 300, {1, 2, 3, 8, 33, 128}}, {33, 700, {1, 3, 8, 33}}, {64, 1024, {1, 8, 128}},
        {100, 2560, {1, 4, 33}},  {5, 4500, {1, 5, 8}},      {40, 512, {128}},
        {2, 8192, {2, 4}},       {4, 0, {1, 5}},
    };
    for (const Shape& s : shapes)
        for (int64_t n : s.ns) {
            const tk::TernaryMatrix m = make_matrix(s.rows, s.cols, n % 3 == 0 ? WMode::sparse : WMode::random);
            const int64_t q_stride = m.padded_cols + irand(0, 1) * 32;
            const std::vector<int8_t> q = make_acts(n, s.cols, q_stride, n == 2 ? AMode::small : AMode::random);
            run_ternary(t, m, q, n, q_stride,
                        fmt("%lldx%lld n=%lld", (long long)s.rows, (long long)s.cols, (long long)n));
        }
    // Extremes: every activation at the int8 limits, every weight equal. The
    // sums reach +-128 * padded_cols: no int16 partial may overflow.
    const WMode wmodes[] = {WMode::plus, WMode::minus, WMode::zero, WMode::random};
    const AMode amodes[] = {AMode::max, AMode::min, AMode::alternating};
    for (WMode wm : wmodes)
        for (AMode am : amodes)
            for (int64_t n : {1, 5}) {
                const int64_t rows = 19, cols = 4352;  // > one 4096-column block
                const tk::TernaryMatrix m = make_matrix(rows, cols, wm);
                const std::vector<int8_t> q = make_acts(n, cols, m.padded_cols, am);
                run_ternary(t, m, q, n, m.padded_cols,
                            fmt("extreme w=%d a=%d n=%lld", int(wm), int(am), (long long)n));
            }
}

// Repacked layouts decoded back (neon.h) equal the canonical matrix.
void test_repack_roundtrip() {
    for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {17, 300}, {33, 1000}, {16, 2560}}) {
        const tk::TernaryMatrix m = make_matrix(rows, cols, WMode::random);
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

// TL build and lookup as two steps, each against the reference step.
void test_tl_steps() {
    for (int64_t cols : {1, 256, 700, 2560}) {
        const int64_t pc = tern::round_up(cols, 256);
        for (AMode am : {AMode::random, AMode::max, AMode::min, AMode::alternating}) {
            const std::vector<int8_t> a = make_acts(1, cols, pc, am);
            const std::string label = fmt("cols=%lld a=%d", (long long)cols, int(am));
            // TL1 build
            std::vector<int16_t> ref1(size_t(pc / 2 * 9));
            tk::ref::tl1_build_table(a.data(), pc, ref1.data());
            AlignedBuffer t1(size_t(tk::neon::tl1_prepared_bytes(pc)));
            std::memset(t1.data(), 0xA5, t1.size());
            tk::neon::tl1_build_table(a.data(), pc, t1.data());
            int64_t bad = 0;
            for (int64_t p = 0; p < pc / 2; ++p)
                for (int i = 0; i < 16; ++i)
                    bad += tk::neon::tl1_table_entry(t1.data(), p, i) != (i < 9 ? ref1[size_t(p * 9 + i)] : 0);
            check(bad == 0, "neon tl1_build_table equals ref entries, " + label);
            // TL2 build
            const int64_t groups = tk::ref::tl2_groups(pc), gp = tk::neon::tl2_padded_groups(pc);
            std::vector<int16_t> ref2(size_t(groups * 14));
            tk::ref::tl2_build_table(a.data(), pc, ref2.data());
            AlignedBuffer t2(size_t(tk::neon::tl2_prepared_bytes(pc)));
            std::memset(t2.data(), 0xA5, t2.size());
            tk::neon::tl2_build_table(a.data(), pc, t2.data());
            bad = 0;
            for (int64_t g = 0; g < gp; ++g)
                for (int i = 0; i < 32; ++i) {
                    const int v = i % 16;
                    int want = 0;
                    if (g < groups && v < 14) want = i < 16 ? ref2[size_t(g * 14 + v)] : -ref2[size_t(g * 14 + v)];
                    bad += tk::neon::tl2_table_entry(t2.data(), g, i) != want;
                }
            check(bad == 0, "neon tl2_build_table equals ref entries (and negatives), " + label);

            // Lookups over a reference-built table, tile by tile, against ref's lookup.
            const tk::TernaryMatrix m = make_matrix(37, cols, WMode::random);
            const tk::PackedTernary rp1 = tk::ref::tl1_repack(m), np1 = tk::neon::tl1_repack(m);
            const tk::PackedTernary rp2 = tk::ref::tl2_repack(m), np2 = tk::neon::tl2_repack(m);
            AlignedBuffer c1(t1.size()), c2(t2.size());
            tk::neon::tl1_table_from_ref(ref1.data(), pc, c1.data());
            tk::neon::tl2_table_from_ref(ref2.data(), pc, c2.data());
            int64_t bad1 = 0, bad2 = 0;
            for (int64_t tile = 0; tile < np1.param[1]; ++tile) {
                int32_t o1[16], o2[16];
                tk::neon::tl1_lookup_tile(np1.data.data() + tile * np1.param[2], c1.data(), pc, o1);
                tk::neon::tl2_lookup_tile(np2.data.data() + tile * np2.param[2], c2.data(), pc, o2);
                for (int i = 0; i < 16 && tile * 16 + i < m.rows; ++i) {
                    const int64_t r = tile * 16 + i;
                    bad1 += o1[i] != tk::ref::tl1_lookup_row(rp1.data.data() + r * (pc / 4), ref1.data(), pc / 2);
                    bad2 += o2[i] != tk::ref::tl2_lookup_row(rp2.data.data() + r * rp2.param[1],
                                                             rp2.data.data() + m.rows * rp2.param[1] + r * rp2.param[2],
                                                             ref2.data(), groups);
                }
            }
            check(bad1 == 0, "neon tl1_lookup_tile over ref's table equals ref lookups, " + label);
            check(bad2 == 0, "neon tl2_lookup_tile over ref's table equals ref lookups, " + label);
        }
    }
}

// ---------------------------------------------------------------- float weights

std::vector<uint8_t> make_rows(GgmlType type, int64_t rows, int64_t cols, int64_t row_bytes, bool specials) {
    std::vector<uint8_t> w(size_t(rows * row_bytes + 8));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& b : w) b = uint8_t(irand(0, 255));  // padding between rows is garbage
    for (int64_t r = 0; r < rows; ++r) {
        uint8_t* row = w.data() + r * row_bytes;
        switch (type) {
            case GgmlType::F32:
                for (int64_t j = 0; j < cols; ++j) {
                    const float v = nd(rng);
                    std::memcpy(row + 4 * j, &v, 4);
                }
                break;
            case GgmlType::F16:
            case GgmlType::BF16:
                for (int64_t j = 0; j < cols; ++j) {
                    float v = nd(rng);
                    if (specials && irand(0, 20) == 0) v = irand(0, 1) ? 6e-8f : 1e-5f;  // fp16 subnormals
                    const uint16_t h = type == GgmlType::F16 ? tern::f32_to_fp16(v) : tern::f32_to_bf16(v);
                    std::memcpy(row + 2 * j, &h, 2);
                }
                break;
            case GgmlType::Q8_0:
                for (int64_t b = 0; b < cols / 32; ++b) {
                    const uint16_t d = tern::f32_to_fp16(std::fabs(nd(rng)) * 0.01f);
                    std::memcpy(row + 34 * b, &d, 2);
                }
                break;
            case GgmlType::Q6_K:
                for (int64_t b = 0; b < cols / 256; ++b) {
                    const uint16_t d = tern::f32_to_fp16(std::fabs(nd(rng)) * 0.001f);
                    std::memcpy(row + 210 * b + 208, &d, 2);
                }
                break;
            default:
                break;
        }
    }
    return w;
}

int64_t natural_row_bytes(GgmlType type, int64_t cols) {
    switch (type) {
        case GgmlType::F32: return 4 * cols;
        case GgmlType::F16:
        case GgmlType::BF16: return 2 * cols;
        case GgmlType::Q8_0: return cols / 32 * 34;
        case GgmlType::Q6_K: return cols / 256 * 210;
        default: return 0;
    }
}

void test_dequantize(const tk::KernelTable& t) {
    // Every F16 and BF16 bit pattern, at an odd address.
    std::vector<uint8_t> all(2 * 65536 + 1);
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint16_t v = uint16_t(h);
        std::memcpy(all.data() + 1 + 2 * h, &v, 2);
    }
    for (GgmlType type : {GgmlType::F16, GgmlType::BF16}) {
        for (int64_t cols : {int64_t(65536), int64_t(65531)}) {
            std::vector<float> a(size_t(cols) + 1, std::nanf("")), b = a;
            tk::ref::dequantize_row(type, all.data() + 1, a.data(), cols);
            t.dequantize_row(type, all.data() + 1, b.data(), cols);
            check(std::memcmp(a.data(), b.data(), a.size() * 4) == 0,
                  fmt("%s dequantize_row %s: all %lld bit patterns", t.name, tern::type_name(uint32_t(type)),
                      (long long)cols));
        }
    }
    const std::pair<GgmlType, std::vector<int64_t>> cases[] = {
        {GgmlType::F32, {1, 7, 16, 33, 1000}},
        {GgmlType::F16, {1, 7, 8, 9, 33, 1000}},
        {GgmlType::BF16, {1, 7, 8, 9, 33, 1000}},
        {GgmlType::Q8_0, {32, 64, 96, 1024}},
        {GgmlType::Q6_K, {256, 512, 2560}},
    };
    for (const auto& [type, col_list] : cases)
        for (int64_t cols : col_list) {
            const int64_t rb = natural_row_bytes(type, cols);
            const std::vector<uint8_t> w = make_rows(type, 1, cols, rb, true);
            std::vector<float> a(size_t(cols) + 1, std::nanf("")), b = a;
            tk::ref::dequantize_row(type, w.data() + 1, a.data(), cols);  // odd address: blocks are unaligned
            t.dequantize_row(type, w.data() + 1, b.data(), cols);
            check(std::memcmp(a.data(), b.data(), a.size() * 4) == 0,
                  fmt("%s dequantize_row %s cols=%lld", t.name, tern::type_name(uint32_t(type)), (long long)cols));
        }
    // Q8_0 / Q6_K blocks whose scale is 0, inf, NaN or subnormal.
    for (uint16_t d : {uint16_t(0x0000), uint16_t(0x7c00), uint16_t(0x7e01), uint16_t(0x7c01), uint16_t(0x0003),
                       uint16_t(0x8400)}) {
        std::vector<uint8_t> q8 = make_rows(GgmlType::Q8_0, 1, 64, 68, false);
        std::vector<uint8_t> q6 = make_rows(GgmlType::Q6_K, 1, 256, 210, false);
        std::memcpy(q8.data() + 34, &d, 2);
        std::memcpy(q6.data() + 208, &d, 2);
        std::vector<float> a(257, std::nanf("")), b = a;
        tk::ref::dequantize_row(GgmlType::Q8_0, q8.data(), a.data(), 64);
        t.dequantize_row(GgmlType::Q8_0, q8.data(), b.data(), 64);
        check(std::memcmp(a.data(), b.data(), a.size() * 4) == 0, fmt("%s dequantize_row Q8_0 d=0x%04x", t.name, d));
        tk::ref::dequantize_row(GgmlType::Q6_K, q6.data(), a.data(), 256);
        t.dequantize_row(GgmlType::Q6_K, q6.data(), b.data(), 256);
        check(std::memcmp(a.data(), b.data(), a.size() * 4) == 0, fmt("%s dequantize_row Q6_K d=0x%04x", t.name, d));
    }
}

template <class F>
bool throws_error(F f) {
    try {
        f();
    } catch (const tern::Error&) {
        return true;
    } catch (...) {
        return false;
    }
    return false;
}

// The attention kernels (one source compiled per ISA) equal ref bit for bit.
void test_attention(const tk::KernelTable& t) {
    constexpr int64_t B = tk::kAttnKeyBlock;
    std::normal_distribution<float> nd(0.0f, 1.5f);
    auto randv = [&](size_t count) {
        std::vector<float> v(count);
        for (auto& x : v) x = nd(rng);
        return v;
    };
    for (int64_t D : {64, 80, 128})
        for (int64_t n : {1, 2, 3, 16}) {
            const int64_t q_stride = D + 5, s_stride = B + 3;
            const auto q = randv(size_t(n * q_stride)), kt = randv(size_t(D * B));
            for (int64_t keys : {1, 5, 64}) {
                std::vector<float> want(size_t(n * s_stride), std::nanf("")), got = want;
                tk::ref::attn_scores(q.data(), n, q_stride, D, kt.data(), keys, want.data(), s_stride);
                t.attn_scores(q.data(), n, q_stride, D, kt.data(), keys, got.data(), s_stride);
                check(std::memcmp(got.data(), want.data(), got.size() * 4) == 0,
                      fmt("%s attn_scores D=%lld n=%lld keys=%lld", t.name, (long long)D, (long long)n, (long long)keys));
            }
            for (int64_t keys : {1, 7, 70}) {
                const int64_t a_stride = keys + 2, v_stride = D + 7, o_stride = D + 4;
                const auto a = randv(size_t(n * a_stride)), v = randv(size_t(keys * v_stride));
                for (bool accumulate : {false, true}) {
                    std::vector<float> want = randv(size_t(n * o_stride)), got = want;
                    tk::ref::attn_values(a.data(), n, a_stride, v.data(), v_stride, keys, D, want.data(), o_stride,
                                         accumulate);
                    t.attn_values(a.data(), n, a_stride, v.data(), v_stride, keys, D, got.data(), o_stride, accumulate);
                    check(std::memcmp(got.data(), want.data(), got.size() * 4) == 0,
                          fmt("%s attn_values D=%lld n=%lld keys=%lld acc=%d", t.name, (long long)D, (long long)n,
                              (long long)keys, int(accumulate)));
                }
            }
        }
}

// Outputs of rows [rb, re) that differ from want in any bit (or are NaN), plus
// outputs outside the range that were written (no longer NaN).
int64_t wrong_outputs(const std::vector<float>& y, const std::vector<float>& want, int64_t n, int64_t y_stride,
                      int64_t rb, int64_t re) {
    int64_t bad = 0;
    for (int64_t tt = 0; tt < n; ++tt)
        for (int64_t r = 0; r < y_stride; ++r) {
            const float got = y[size_t(tt * y_stride + r)];
            const bool in = r >= rb && r < re;
            bad += in ? !(bits(got) == bits(want[size_t(tt * y_stride + r)]) && !std::isnan(got)) : !std::isnan(got);
        }
    return bad;
}

void test_float_matmul(const tk::KernelTable& t) {
    const std::pair<GgmlType, std::vector<int64_t>> cases[] = {
        {GgmlType::F32, {1, 5, 16, 17, 255, 600}},
        {GgmlType::F16, {1, 16, 31, 256, 257, 600}},
        {GgmlType::BF16, {3, 16, 300}},
        {GgmlType::Q8_0, {32, 64, 288, 544}},
        {GgmlType::Q6_K, {256, 768}},
    };
    for (const auto& [type, col_list] : cases)
        for (int64_t cols : col_list)
            for (int64_t rows : {1, 4, 5, 17})
                for (int64_t n : {1, 2, 3, 8, 33}) {
                    if ((rows == 17 && n == 8 && cols > 300) || (n == 33 && (rows > 5 || cols > 300)))
                        continue;  // keep the qemu run short
                    const int64_t row_bytes = natural_row_bytes(type, cols) + irand(0, 1) * 3;
                    const std::vector<uint8_t> w = make_rows(type, rows, cols, row_bytes, true);
                    const int64_t x_stride = cols + irand(0, 3), y_stride = rows + 2;
                    std::vector<float> x(size_t(n * x_stride));
                    std::normal_distribution<float> nd(0.0f, 1.0f);
                    for (auto& v : x) v = nd(rng);
                    std::vector<float> want(size_t(n * y_stride), std::nanf(""));
                    tk::ref::float_matmul(type, w.data(), row_bytes, cols, x.data(), n, x_stride, want.data(), y_stride,
                                          0, rows);
                    const int64_t a = irand(0, rows - 1), b = irand(a, rows);
                    for (const auto& [rb, re] : std::vector<std::pair<int64_t, int64_t>>{{0, rows}, {a, b}}) {
                        std::vector<float> y(size_t(n * y_stride), std::nanf(""));
                        t.float_matmul(type, w.data(), row_bytes, cols, x.data(), n, x_stride, y.data(), y_stride, rb,
                                       re);
                        const int64_t bad = wrong_outputs(y, want, n, y_stride, rb, re);
                        check(bad == 0, fmt("%s float_matmul %s %lldx%lld n=%lld rows [%lld, %lld): %lld wrong", t.name,
                                            tern::type_name(uint32_t(type)), (long long)rows, (long long)cols,
                                            (long long)n, (long long)rb, (long long)re, (long long)bad));
                    }
                }
    // Large values: sums overflow to inf the same way.
    {
        const int64_t cols = 40, rows = 3, n = 2;
        std::vector<uint8_t> w(size_t(rows * cols * 4));
        std::vector<float> x(size_t(n * cols));
        for (int64_t i = 0; i < rows * cols; ++i) {
            const float v = (i % 3 == 0 ? 3e38f : -1e38f) * float(irand(1, 3));
            std::memcpy(w.data() + 4 * i, &v, 4);
        }
        for (auto& v : x) v = float(irand(1, 4));
        std::vector<float> a(size_t(n * rows), 1.0f), b(size_t(n * rows), 2.0f);
        tk::ref::float_matmul(GgmlType::F32, w.data(), cols * 4, cols, x.data(), n, cols, a.data(), rows, 0, rows);
        t.float_matmul(GgmlType::F32, w.data(), cols * 4, cols, x.data(), n, cols, b.data(), rows, 0, rows);
        bool ok = true;
        for (size_t i = 0; i < a.size(); ++i) ok = ok && same_float(a[i], b[i]);
        check(ok, std::string(t.name) + " float_matmul with overflowing sums equals ref");
    }
    // Errors: the same tern::Error as ref.
    std::vector<uint8_t> w(4096);
    std::vector<float> x(256), y(8);
    check(throws_error([&] { t.float_matmul(GgmlType::Q4_0, w.data(), 18, 32, x.data(), 1, 32, y.data(), 1, 0, 1); }),
          std::string(t.name) + " float_matmul Q4_0 throws tern::Error");
    check(throws_error([&] { t.float_matmul(GgmlType::Q8_0, w.data(), 34, 33, x.data(), 1, 33, y.data(), 1, 0, 1); }),
          std::string(t.name) + " float_matmul Q8_0 with 33 columns throws tern::Error");
    check(throws_error([&] { t.dequantize_row(GgmlType::Q6_K, w.data(), x.data(), 100); }),
          std::string(t.name) + " dequantize_row Q6_K with 100 columns throws tern::Error");
    check(throws_error([&] { t.dequantize_row(GgmlType::TQ2_0, w.data(), x.data(), 256); }),
          std::string(t.name) + " dequantize_row TQ2_0 throws tern::Error");
}

// qdot: prepare and matmul equal ref bit for bit for Q8_0 and Q6_K, odd row
// counts and strides, 1 to 16 tokens, row sub-ranges (untouched outputs stay
// NaN), and at the int32 limit (Q6_K scale -128, code 0, |a| = 32767).
void test_qdot(const tk::KernelTable& t) {
    const std::pair<GgmlType, std::vector<int64_t>> cases[] = {{GgmlType::Q8_0, {32, 96, 544}},
                                                               {GgmlType::Q6_K, {256, 768}}};
    for (const auto& [type, col_list] : cases)
        for (int64_t cols : col_list)
            for (int64_t rows : {1, 4, 5, 17})
                for (int64_t n : {1, 2, 3, 8, 16}) {
                    if (rows == 17 && n == 16 && cols > 300) continue;  // keep the qemu run short
                    const bool extreme = type == GgmlType::Q6_K && n == 2;
                    const int64_t row_bytes = natural_row_bytes(type, cols) + irand(0, 1) * 2;
                    std::vector<uint8_t> w = make_rows(type, rows, cols, row_bytes, true);
                    const int64_t x_stride = cols + irand(0, 3), y_stride = rows + 2;
                    const int64_t stride = tk::qdot_prepared_bytes(cols);
                    std::vector<float> x(size_t(n * x_stride));
                    std::normal_distribution<float> nd(0.0f, 1.0f);
                    for (auto& v : x) v = nd(rng);
                    if (extreme) {
                        for (int64_t r = 0; r < rows; ++r)
                            for (int64_t b = 0; b < cols / 256; ++b) {
                                uint8_t* blk = w.data() + r * row_bytes + b * 210;
                                std::memset(blk, 0, 192);
                                std::memset(blk + 192, 0x80, 16);
                            }
                        for (int64_t j = 0; j < cols; ++j) x[size_t(j)] = 2.0f, x[size_t(x_stride + j)] = -2.0f;
                    }
                    AlignedBuffer pw(size_t(n * stride)), pg(size_t(n * stride));
                    tk::ref::qdot_prepare(x.data(), n, cols, x_stride, pw.data());
                    t.qdot_prepare(x.data(), n, cols, x_stride, pg.data());
                    check(std::memcmp(pw.data(), pg.data(), pw.size()) == 0,
                          fmt("%s qdot_prepare cols=%lld n=%lld", t.name, (long long)cols, (long long)n));
                    std::vector<float> want(size_t(n * y_stride), std::nanf(""));
                    tk::ref::qdot_matmul(type, w.data(), row_bytes, cols, pw.data(), n, want.data(), y_stride, 0, rows);
                    const int64_t a = irand(0, rows - 1), b = irand(a, rows);
                    for (const auto& [rb, re] : std::vector<std::pair<int64_t, int64_t>>{{0, rows}, {a, b}}) {
                        std::vector<float> y(size_t(n * y_stride), std::nanf(""));
                        t.qdot_matmul(type, w.data(), row_bytes, cols, pg.data(), n, y.data(), y_stride, rb, re);
                        const int64_t bad = wrong_outputs(y, want, n, y_stride, rb, re);
                        check(bad == 0, fmt("%s qdot_matmul %s %lldx%lld n=%lld rows [%lld, %lld)%s: %lld wrong",
                                            t.name, tern::type_name(uint32_t(type)), (long long)rows, (long long)cols,
                                            (long long)n, (long long)rb, (long long)re, extreme ? " extreme" : "",
                                            (long long)bad));
                    }
                }
    std::vector<uint8_t> w(4096);
    AlignedBuffer p(size_t(tk::qdot_prepared_bytes(256)));
    std::vector<float> y(8);
    check(throws_error([&] { t.qdot_matmul(GgmlType::F16, w.data(), 512, 256, p.data(), 1, y.data(), 1, 0, 1); }),
          std::string(t.name) + " qdot_matmul F16 throws tern::Error");
    check(throws_error([&] { t.qdot_matmul(GgmlType::Q8_0, w.data(), 34, 48, p.data(), 1, y.data(), 1, 0, 1); }),
          std::string(t.name) + " qdot_matmul Q8_0 with 48 columns throws tern::Error");
}

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

}  // namespace

int main(int argc, char** argv) {
    int expect_dotprod = -1;
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
            rng.seed(std::strtoull(a.c_str() + 7, nullptr, 10));
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
    test_tl_steps();
    for (const auto& e : tk::available_tables()) {
        if (!e.runs_here || std::string(e.table->name) == "ref") continue;
        const tk::KernelTable& t = *e.table;
        const int before = g_fail;
        test_entries(t);
        test_quantize(t);
        test_ternary(t);
        test_dequantize(t);
        test_float_matmul(t);
        test_qdot(t);
        test_attention(t);
        std::printf("table %-12s %s\n", t.name, g_fail == before ? "ok" : "FAILED");
    }
    std::printf("arm kernel tests (%s): %d passed, %d failed\n", cpu.c_str(), g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
