// The kernel conformance harness (conformance.h). Each case computes the
// truth with the reference table's functions (ref.h; ref_kernels_test pins
// them to hand values and brute force), runs the table under test on the same
// inputs into poisoned outputs, and compares every bit, the poison included.
// The shapes are the union of what the x86 tests, the arm tests and the
// self-test checked before they shared this file; `quick` is the self-test's.
#include "kernels/conformance.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <random>
#include <sstream>
#include <type_traits>
#include <utility>

#include "kernels/ref/ref.h"
#include "kernels/ternary_formats.h"
#include "tern/error.h"

namespace tern::kernels {

class Check {
public:
    Check(const KernelTable& t, std::string prefix, uint64_t seed) : table(t), rng(seed), prefix_(std::move(prefix)) {}

    const KernelTable& table;  // under test
    std::mt19937_64 rng;
    CaseResult result;

    bool expect(bool ok, const std::string& what) {
        if (ok) {
            ++result.passed;
        } else {
            ++result.failed;
            if (result.failures.size() < 20) result.failures.push_back(prefix_ + what);
        }
        return ok;
    }
    int64_t irand(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }  // [lo, hi]
    float normal(float sigma) { return std::normal_distribution<float>(0.0f, sigma)(rng); }

private:
    std::string prefix_;
};

namespace {

constexpr int32_t kSentinel = int32_t(0x7eadbeef);
using Range = std::pair<int64_t, int64_t>;

template <class... A>
std::string cat(const A&... a) {
    std::ostringstream o;
    (o << ... << a);
    return o.str();
}

std::string shape(int64_t rows, int64_t cols, int64_t n) { return cat(rows, "x", cols, " n=", n); }
std::string rows_str(Range r) { return cat(" rows [", r.first, ", ", r.second, ")"); }

uint32_t bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}
std::string show(float v) {
    char b[48];
    std::snprintf(b, sizeof b, "%.9g (0x%08x)", double(v), bits(v));
    return b;
}
template <class T>
std::string show(T v) {
    return std::to_string(int64_t(v));
}

// How NaN outputs compare. `exact`: every bit, payload included. `any_nan`:
// any NaN matches any NaN (inf - inf in overflowing sums).
enum class NanMatch { exact, any_nan };

bool same_bits(float got, float want, NanMatch nan) {
    if (bits(got) == bits(want)) return true;
    return nan == NanMatch::any_nan && std::isnan(got) && std::isnan(want);
}
template <class T>
bool same_bits(T got, T want, NanMatch) {
    return got == want;
}

// One check: `count` outputs, `stride` per token (or `outer`), equal to
// `want` in every bit. The failure names the first differing element as
// (token, inner index).
template <class T>
bool expect_same(Check& c, const T* got, const T* want, int64_t count, int64_t stride, const std::string& what,
                 const char* inner = "row", NanMatch nan = NanMatch::exact, const char* outer = "token") {
    for (int64_t i = 0; i < count; ++i) {
        if (same_bits(got[i], want[i], nan)) continue;
        const int64_t s = stride > 0 ? stride : 1;
        return c.expect(false, cat(what, ": differs from ref first at ", outer, " ", i / s, ", ", inner, " ", i % s,
                                   ": got ", show(got[i]), ", want ", show(want[i])));
    }
    return c.expect(true, what);
}
template <class T>
bool expect_same(Check& c, const std::vector<T>& got, const std::vector<T>& want, int64_t stride,
                 const std::string& what, const char* inner = "row", NanMatch nan = NanMatch::exact,
                 const char* outer = "token") {
    if (got.size() != want.size()) return c.expect(false, what + ": output sizes differ");
    return expect_same(c, got.data(), want.data(), int64_t(got.size()), stride, what, inner, nan, outer);
}

// The outputs a matmul over rows [rb, re) must leave: `full` (every row, n
// tokens, `stride` apart) inside the range, `poison` elsewhere.
template <class T>
std::vector<T> expected_rows(const std::vector<T>& full, int64_t n, int64_t stride, Range r, T poison) {
    std::vector<T> out(full.size(), poison);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t i = r.first; i < r.second; ++i) out[size_t(t * stride + i)] = full[size_t(t * stride + i)];
    return out;
}

// Whole, trimmed, one-off and random row ranges; an empty one; one that
// starts inside the first tile of any layout.
std::vector<Range> row_ranges(Check& c, int64_t rows) {
    std::vector<Range> out = {{0, rows}};
    if (rows > 1) {
        const int64_t a = c.irand(0, rows - 1), b = c.irand(a, rows);
        out.insert(out.end(), {{1, rows}, {0, rows - 1}, {a, b}, {rows / 2, rows / 2}, {rows / 3, rows - rows / 4}});
    }
    if (rows > 2) out.push_back({1, rows - 1});
    if (rows > 4) out.push_back({3, rows - 1});
    return out;
}

template <class F>
bool throws_error(F f) {
    try {
        f();
    } catch (const Error&) {
        return true;
    } catch (...) {
        return false;
    }
    return false;
}

// ---------------------------------------------------------------- quantize_rows

enum class XMode { normal, ties, tiny, zero, specials, huge, subnormal };

void fill_x(Check& c, std::vector<float>& x, int64_t n, int64_t cols, int64_t stride, XMode mode) {
    for (int64_t t = 0; t < n; ++t) {
        float* r = x.data() + t * stride;
        // Widely different magnitudes per row, like real 2B4T activations.
        const float sigma = std::pow(10.0f, float(c.irand(-4, 4)));
        for (int64_t j = 0; j < cols; ++j) {
            switch (mode) {
                case XMode::normal: r[j] = c.normal(sigma) * (c.irand(0, 30) == 0 ? 20.0f : 1.0f); break;
                case XMode::ties: r[j] = float(c.irand(-127, 126)) + 0.5f; break;  // s = 1 once 127 is in
                case XMode::tiny: r[j] = c.normal(1e-6f); break;
                case XMode::zero: r[j] = c.irand(0, 1) ? 0.0f : -0.0f; break;
                case XMode::specials: {
                    const float v[] = {std::nanf(""), -std::nanf(""), 1.0f, -2.5f, 0.0f, -0.0f, 3e38f, -3e38f, 1e-40f};
                    r[j] = c.irand(0, 4) ? c.normal(1.0f) : v[c.irand(0, 8)];
                    break;
                }
                case XMode::huge: r[j] = c.normal(1e37f); break;
                case XMode::subnormal: r[j] = c.normal(1e-39f); break;
            }
        }
        if (mode == XMode::normal && t == 0 && cols > 3) r[2] = 127.5f, r[3] = -0.5f;
        if (mode == XMode::ties && cols > 0) r[c.irand(0, cols - 1)] = c.irand(0, 1) ? 127.0f : -127.0f;
        if (mode == XMode::specials && cols > 2 && t % 2 == 1)
            r[c.irand(0, cols - 1)] = c.irand(0, 1) ? std::numeric_limits<float>::infinity()
                                                    : -std::numeric_limits<float>::infinity();
    }
}

// x: n rows `x_stride` apart; q and scales compared whole (the table's q
// poisoned differently from ref's, so every byte it owes must be written; one
// guard byte past the end must stay).
void check_quantize(Check& c, const std::vector<float>& x, int64_t n, int64_t cols, int64_t x_stride,
                    int64_t q_stride, const std::string& what) {
    const size_t qn = size_t(n * q_stride);
    std::vector<int8_t> qr(qn + 1, int8_t(0x5a)), q(qn + 1, int8_t(0x33));
    q[qn] = int8_t(0x5a);
    std::vector<float> sr(size_t(n), std::nanf("")), s = sr;
    ref::quantize_rows(x.data(), n, cols, x_stride, qr.data(), q_stride, sr.data());
    c.table.quantize_rows(x.data(), n, cols, x_stride, q.data(), q_stride, s.data());
    if (expect_same(c, q, qr, q_stride, what + " codes", "column")) expect_same(c, s, sr, 1, what + " scales", "scale");
}

void quantize_random(Check& c, CaseSize size) {
    const bool full = size == CaseSize::full;
    const std::vector<int64_t> col_list =
        full ? std::vector<int64_t>{0, 1, 3, 5, 8, 15, 16, 17, 31, 32, 33, 64, 100, 255, 256, 257, 1000, 2560, 2563, 6912}
             : std::vector<int64_t>{1, 17, 33, 256, 1000, 2560};
    const std::vector<XMode> modes = full ? std::vector<XMode>{XMode::normal, XMode::ties, XMode::tiny, XMode::zero,
                                                                XMode::specials, XMode::huge, XMode::subnormal}
                                          : std::vector<XMode>{XMode::normal, XMode::specials};
    const std::vector<int64_t> ns = full ? std::vector<int64_t>{1, 2, 3, 8} : std::vector<int64_t>{1, 3};
    for (int64_t cols : col_list)
        for (XMode mode : modes)
            for (int64_t n : ns) {
                const int64_t x_stride = cols + c.irand(0, 3);
                const int64_t q_stride = c.irand(0, 1) ? cols : round_up(cols, 256) + c.irand(0, 7);
                std::vector<float> x(size_t(n * x_stride + 1), std::nanf(""));  // gaps are NaN: must be ignored
                fill_x(c, x, n, cols, x_stride, mode);
                check_quantize(c, x, n, cols, x_stride, q_stride,
                               cat("cols=", cols, " n=", n, " x_stride=", x_stride, " q_stride=", q_stride,
                                   " mode=", int(mode)));
            }
}

// Rows chosen for their edge: ties, zero, below gamma's floor, huge, a NaN, an
// inf, subnormals; values past `cols` must not be read.
void quantize_edges(Check& c, CaseSize) {
    const int64_t cols = 40, stride = 64;
    std::vector<std::vector<float>> rows;
    std::vector<float> ties(cols);  // amax 127 makes s = 1, so k + 0.5 hits round-half-to-even exactly
    for (int64_t j = 0; j < cols; ++j) ties[size_t(j)] = float(j % 9) - 4.5f;
    ties[3] = 127.0f;
    ties[7] = -126.5f;
    rows.push_back(ties);
    rows.push_back(std::vector<float>(cols, 0.0f));    // all zero: gamma = 1e-5
    rows.push_back(std::vector<float>(cols, -3e-7f));  // below gamma's floor
    rows.push_back(std::vector<float>(cols, 1e30f));   // huge
    std::vector<float> nan_row(cols, 2.0f);
    nan_row[5] = std::nanf("");  // a NaN never wins the absmax, quantizes to 0
    nan_row[20] = -8.0f;
    rows.push_back(nan_row);
    std::vector<float> inf_row(cols, 1.0f);
    inf_row[9] = std::numeric_limits<float>::infinity();  // s = 0: every code 0
    rows.push_back(inf_row);
    std::vector<float> denorm(cols, 1e-40f);
    denorm[0] = -1e-38f;
    rows.push_back(denorm);
    std::vector<float> x;
    for (auto& r : rows) {
        r.resize(stride, 77.0f);
        x.insert(x.end(), r.begin(), r.end());
    }
    for (int64_t k : {cols, int64_t(1), int64_t(17), int64_t(33)})
        check_quantize(c, x, int64_t(rows.size()), k, stride, 64, cat("edge rows cols=", k));
}

// ---------------------------------------------------------------- ternary families

}  // namespace

TernaryMatrix test_matrix(std::mt19937_64& rng, int64_t rows, int64_t cols, WeightFill fill) {
    auto irand = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    TernaryMatrix m(rows, cols, 0.75f);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) {
            int w = 0;
            switch (fill) {
                case WeightFill::random: w = irand(-1, 1); break;
                case WeightFill::plus: w = 1; break;
                case WeightFill::minus: w = -1; break;
                case WeightFill::zero: w = 0; break;
                case WeightFill::checker: w = (r + j) % 2 ? 1 : -1; break;
                case WeightFill::sparse: w = irand(0, 9) == 0 ? irand(0, 1) * 2 - 1 : 0; break;
            }
            m.set(r, j, w);
        }
    return m;
}

std::vector<int8_t> test_activations(std::mt19937_64& rng, int64_t n, int64_t cols, int64_t stride, ActFill fill) {
    auto irand = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    std::vector<int8_t> q(size_t(n * stride) + 1, 0);  // + 1: never a null pointer, even for 0 columns
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < cols; ++j) {
            int v = 0;
            switch (fill) {
                case ActFill::random: v = irand(-128, 127); break;
                case ActFill::max: v = 127; break;
                case ActFill::min: v = -128; break;
                case ActFill::alternating: v = j % 2 ? 127 : -128; break;
                case ActFill::minus127: v = -127; break;
                case ActFill::small: v = irand(-3, 3); break;
            }
            q[size_t(t * stride + j)] = int8_t(v);
        }
    return q;
}

namespace {

// One family of the table on one matrix and batch: repack keeps the header,
// prepare writes what matmul reads (its buffer poisoned), matmul over every
// row range equals ref I2S's exact sums there and leaves the sentinel elsewhere.
void check_family(Check& c, TernaryFamily fam, const TernaryMatrix& m, const std::vector<int8_t>& q, int64_t n,
                  int64_t q_stride, const std::string& label) {
    const int64_t rows = m.rows, pc = m.padded_cols, y_stride = rows + 3;
    std::vector<int32_t> full(size_t(n * y_stride), kSentinel);
    {
        const PackedTernary rp = ref::i2s_repack(m);
        AlignedBuffer prep(size_t(n * ref::i2s_prepared_bytes(pc)) + 1);
        ref::i2s_prepare(q.data(), n, q_stride, pc, prep.data());
        ref::i2s_matmul(rp, prep.data(), n, full.data(), y_stride, 0, rows);
    }
    const TernaryKernels& k = c.table.ternary[int(fam)];
    const PackedTernary p = k.repack(m);
    c.expect(p.rows == m.rows && p.cols == m.cols && p.padded_cols == m.padded_cols && p.scale == m.scale,
             label + ": repack keeps rows, cols, padded_cols and scale");
    const int64_t pb = k.prepared_bytes(pc);
    if (!c.expect(pb >= 0 && pb % 64 == 0, cat(label, ": prepared_bytes ", pb, " is a multiple of 64"))) return;
    AlignedBuffer prep(size_t(n * pb) + 64);
    std::memset(prep.data(), 0xa5, prep.size());
    k.prepare(q.data(), n, q_stride, pc, prep.data());
    for (const Range& r : row_ranges(c, rows)) {
        std::vector<int32_t> y(size_t(n * y_stride), kSentinel);
        k.matmul(p, prep.data(), n, y.data(), y_stride, r.first, r.second);
        expect_same(c, y, expected_rows(full, n, y_stride, r, kSentinel), y_stride, label + rows_str(r));
    }
}

struct Shape {
    int64_t rows, cols;
    std::vector<int64_t> ns;
    bool varied;  // sparse weights when 3 divides n, small activations when n = 2
};

void check_shapes(Check& c, TernaryFamily fam, const std::vector<Shape>& shapes) {
    for (const Shape& s : shapes)
        for (int64_t n : s.ns) {
            const TernaryMatrix m = test_matrix(c.rng, s.rows, s.cols, s.varied && n % 3 == 0 ? WeightFill::sparse : WeightFill::random);
            const int64_t q_stride = m.padded_cols + c.irand(0, 1) * 32;
            const auto q = test_activations(c.rng, n, s.cols, q_stride, s.varied && n == 2 ? ActFill::small : ActFill::random);
            check_family(c, fam, m, q, n, q_stride, shape(s.rows, s.cols, n));
        }
}

// Odd shapes, few tokens (decode). The last ones: enough tiles that decode
// spreads several streams over the range and leaves a remainder.
void ternary_odd_shapes(Check& c, CaseSize size, TernaryFamily fam) {
    if (size == CaseSize::quick)
        return check_shapes(c, fam, {{7, 100, {1}, false}, {33, 300, {3}, false}, {70, 2560, {1}, false},
                                     {129, 777, {8}, false}});
    const std::vector<int64_t> n4 = {1, 2, 3, 8};
    check_shapes(c, fam,
                 {{1, 1, n4, false},     {7, 100, n4, false},    {8, 256, n4, false},    {16, 256, n4, false},
                  {17, 257, n4, false},  {33, 300, n4, false},   {64, 512, n4, false},   {65, 511, n4, false},
                  {100, 1000, n4, false}, {129, 777, n4, false}, {31, 2560, n4, false},  {200, 129, n4, false},
                  {3, 4096, n4, false},  {600, 256, n4, false},  {1030, 300, n4, false}, {70, 2560, {1}, false},
                  {1, 1, {1, 2, 3}, true}, {3, 100, n4, true},   {16, 256, {1, 8}, true}, {17, 300, n4, true},
                  {33, 700, {1, 3, 8}, true}, {64, 1024, {1, 8}, true}, {100, 2560, {1, 4}, true},
                  {5, 4500, {1, 5, 8}, true}, {2, 8192, {2, 4}, true}, {4, 0, {1, 5}, true}});
}

// Many tokens (prefill).
void ternary_many_tokens(Check& c, CaseSize size, TernaryFamily fam) {
    if (size == CaseSize::quick) return check_shapes(c, fam, {{65, 512, {33}, false}});
    check_shapes(c, fam,
                 {{37, 300, {33, 128}, false}, {96, 512, {33, 128}, false}, {130, 1024, {33, 128}, false},
                  {65, 512, {33}, false}, {16, 256, {33}, true}, {17, 300, {33, 128}, true}, {33, 700, {33}, true},
                  {64, 1024, {128}, true}, {100, 2560, {33}, true}, {40, 512, {128}, true},
                  // too wide for avx2's expanded prefill (two tiles past its scratch): the codes path
                  {9, 17000, {16}, false}});
}

// No accumulator may overflow: activations at the int8 limits against equal
// weights, on rows long enough to overflow any int16 partial sum (4352: more
// than one 4096-column block; 6912 = 2B4T's FFN width; 14336 = 8B's).
void ternary_extremes(Check& c, CaseSize size, TernaryFamily fam) {
    struct Extremes {
        int64_t rows, cols, n;
        std::vector<WeightFill> w;
        std::vector<ActFill> a;
    };
    using W = WeightFill;
    using A = ActFill;
    const std::vector<Extremes> quick = {{17, 6912, 2, {W::plus, W::minus}, {A::min}}, {20, 6912, 1, {W::plus}, {A::max}}};
    const std::vector<W> w4 = {W::plus, W::minus, W::checker, W::random};
    const std::vector<A> a4 = {A::max, A::min, A::alternating, A::minus127};
    const std::vector<Extremes> full = {
        {19, 300, 3, w4, a4},
        {19, 6912, 3, w4, a4},
        {19, 14336, 3, w4, a4},
        {19, 4352, 1, {W::plus, W::minus, W::zero, W::random}, {A::max, A::min, A::alternating}},
        {19, 4352, 5, {W::plus, W::minus, W::zero, W::random}, {A::max, A::min, A::alternating}},
        {17, 6912, 2, {W::plus, W::minus}, {A::min}},
        {20, 6912, 1, {W::plus}, {A::max}},
        // Enough tokens for the expanded prefill (avx2: activations + 128 against signed weights).
        {19, 6912, 17, w4, a4},
        {19, 14336, 16, {W::plus, W::minus}, {A::max, A::min, A::alternating}},
    };
    for (const Extremes& e : size == CaseSize::quick ? quick : full)
        for (W wm : e.w)
            for (A am : e.a) {
                const TernaryMatrix m = test_matrix(c.rng, e.rows, e.cols, wm);
                const auto q = test_activations(c.rng, e.n, e.cols, m.padded_cols, am);
                check_family(c, fam, m, q, e.n, m.padded_cols,
                             cat("extreme ", shape(e.rows, e.cols, e.n), " w", int(wm), " a", int(am)));
            }
}

// What the loader builds from an I2_S tensor's bytes: repack_i2s where the
// table has it, else repack(decode_i2s(...)); either must be repack(m) byte
// for byte, header included. repack_i2s declines a code 3 anywhere and rows
// that do not start on a 128-element block.
void i2s_from_file(Check& c, CaseSize size) {
    const TernaryKernels& k = c.table.ternary[int(TernaryFamily::i2s)];
    std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 128}, {3, 384}, {4, 256}, {17, 640}, {16, 2560}};
    if (size == CaseSize::full) shapes.insert(shapes.end(), {{5, 1152}, {33, 6912}, {40, 1024}, {129, 256}});
    auto same = [&](const PackedTernary& got, const PackedTernary& want, const std::string& what) {
        bool ok = got.rows == want.rows && got.cols == want.cols && got.padded_cols == want.padded_cols &&
                  got.scale == want.scale && got.data.size() == want.data.size();
        for (int i = 0; i < 4; ++i) ok = ok && got.param[i] == want.param[i];
        if (!c.expect(ok, what + ": header (shape, scale, param, size) as repack's")) return;
        const uint8_t* g = got.data.data();
        const uint8_t* w = want.data.data();
        size_t first = 0;
        while (first < want.data.size() && g[first] == w[first]) ++first;
        c.expect(first == want.data.size(), cat(what, ": differs from repack first at byte ", first, " of ", want.data.size()));
    };
    for (const auto& [rows, cols] : shapes) {
        const TernaryMatrix m = test_matrix(c.rng, rows, cols, WeightFill::random);
        const std::vector<uint8_t> bytes = encode_i2s(m);
        const PackedTernary want = k.repack(m);
        const std::string what = cat("I2_S ", rows, "x", cols);
        same(k.repack(decode_i2s(bytes.data(), bytes.size(), rows, cols)), want, what + " decoded");
        if (!k.repack_i2s) continue;
        PackedTernary got;
        if (c.expect(k.repack_i2s(bytes.data(), rows, cols, m.scale, got), what + ": repack_i2s takes it"))
            same(got, want, what + " repack_i2s");
        std::vector<uint8_t> bad = bytes;  // one field of one byte set to code 3
        bad[size_t(c.irand(0, rows * cols / 4 - 1))] |= uint8_t(3 << (2 * c.irand(0, 3)));
        c.expect(!k.repack_i2s(bad.data(), rows, cols, m.scale, got), what + ": repack_i2s declines a code 3");
    }
    if (k.repack_i2s) {  // 64 rows of 100: whole blocks in the tensor, not in each row
        const TernaryMatrix m = test_matrix(c.rng, 64, 100, WeightFill::random);
        const std::vector<uint8_t> bytes = encode_i2s(m);
        PackedTernary got;
        c.expect(!k.repack_i2s(bytes.data(), 64, 100, m.scale, got), "I2_S 64x100: repack_i2s declines rows off the blocks");
    }
}

// ---------------------------------------------------------------- float weights

int64_t natural_row_bytes(GgmlType type, int64_t cols) {
    const auto t = type_traits(uint32_t(type));
    return cols / t->block_elems * t->block_bytes;
}

// `rows` rows of `type`, `row_bytes` apart (the gap is garbage), with the
// edge values each format has: outliers, fp16 subnormals and extremes, block
// scales of every magnitude, random codes.
std::vector<uint8_t> float_rows(Check& c, GgmlType type, int64_t rows, int64_t cols, int64_t row_bytes) {
    std::vector<uint8_t> w(size_t(rows * row_bytes + 8));
    for (auto& b : w) b = uint8_t(c.rng());
    auto put16 = [](uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); };
    for (int64_t r = 0; r < rows; ++r) {
        uint8_t* row = w.data() + r * row_bytes;
        switch (type) {
            case GgmlType::F32:
                for (int64_t j = 0; j < cols; ++j) {
                    const float v = c.normal(1.0f) * (c.irand(0, 6) == 0 ? 100.0f : 1.0f);
                    std::memcpy(row + 4 * j, &v, 4);
                }
                break;
            case GgmlType::F16:
            case GgmlType::BF16:
                for (int64_t j = 0; j < cols; ++j) {
                    float v = c.normal(1.0f) * (c.irand(0, 6) == 0 ? 100.0f : 1.0f);
                    if (c.irand(0, 20) == 0) v = c.irand(0, 1) ? 6e-8f : 1e-5f;  // fp16 subnormals
                    put16(row + 2 * j, type == GgmlType::F16 ? f32_to_fp16(v) : f32_to_bf16(v));
                }
                if (type == GgmlType::F16 && r == 0 && cols >= 4) {  // subnormal and extreme halves
                    const uint16_t special[4] = {0x0001, 0x83ff, 0x7bff, 0xfbff};
                    std::memcpy(row, special, 8);
                }
                break;
            case GgmlType::Q8_0:
                for (int64_t b = 0; b < cols / 32; ++b)
                    put16(row + 34 * b, f32_to_fp16(std::fabs(c.normal(1.0f)) * (c.irand(0, 6) == 0 ? 1.0f : 0.01f)));
                break;
            case GgmlType::Q6_K:  // any bytes are valid blocks; keep d finite
                for (int64_t b = 0; b < cols / 256; ++b) put16(row + 210 * b + 208, f32_to_fp16(std::fabs(c.normal(1.0f)) * 0.001f));
                break;
            case GgmlType::Q4_K:  // likewise: d and dmin finite, now and then one of them 0 or negative
            case GgmlType::Q5_K:
                for (int64_t b = 0; b < cols / 256; ++b) {
                    uint8_t* blk = row + (type == GgmlType::Q4_K ? 144 : 176) * b;
                    for (int k = 0; k < 2; ++k) {
                        const int pick = int(c.irand(0, 9));
                        put16(blk + 2 * k, f32_to_fp16(pick == 0 ? 0.0f : (pick == 1 ? -1.0f : 1.0f) * std::fabs(c.normal(1.0f)) * 0.001f));
                    }
                }
                break;
            default:
                break;
        }
    }
    return w;
}

const char* tname(GgmlType type) { return type_name(uint32_t(type)); }

std::vector<int64_t> float_cols(GgmlType type, CaseSize size) {
    const bool full = size == CaseSize::full;
    switch (type) {
        case GgmlType::F32:
            return full ? std::vector<int64_t>{1, 5, 7, 15, 16, 17, 31, 33, 37, 100, 255, 256, 257, 512, 600, 1000, 2560}
                        : std::vector<int64_t>{37, 256, 2560};
        case GgmlType::F16:
        case GgmlType::BF16:
            return full ? std::vector<int64_t>{1, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 37, 100, 256, 257, 300, 512, 600,
                                               1000, 2560}
                        : std::vector<int64_t>{37, 256, 2560};
        case GgmlType::Q8_0:
            return full ? std::vector<int64_t>{32, 64, 96, 160, 256, 288, 512, 544, 1024, 2560}
                        : std::vector<int64_t>{256, 512, 2560};
        default:
            return full ? std::vector<int64_t>{256, 512, 768, 2560} : std::vector<int64_t>{256, 512, 2560};
    }
}

std::vector<int64_t> float_row_counts(CaseSize size) {
    return size == CaseSize::full ? std::vector<int64_t>{1, 3, 4, 5, 9, 17, 80} : std::vector<int64_t>{9};
}

// f32 activations: n rows `x_stride` apart, the gaps NaN (must not be read).
std::vector<float> float_acts(Check& c, int64_t n, int64_t cols, int64_t x_stride, float sigma) {
    std::vector<float> x(size_t(n * x_stride), std::nanf(""));
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < cols; ++j) x[size_t(t * x_stride + j)] = c.normal(sigma);
    return x;
}

void float_matmul_case(Check& c, CaseSize size, GgmlType type) {
    const std::vector<int64_t> ns = size == CaseSize::full ? std::vector<int64_t>{1, 2, 3, 5, 8, 17, 33}
                                                           : std::vector<int64_t>{1, 3, 5};
    for (int64_t cols : float_cols(type, size))
        for (int64_t rows : float_row_counts(size)) {
            // 80 rows of 2560: several L2 row blocks for several tokens (the
            // next-block prefetch), only at that width to stay quick.
            if (rows == 80 && cols != 2560) continue;
            const int64_t row_bytes = natural_row_bytes(type, cols) + c.irand(0, 1) * 3;
            const auto w = float_rows(c, type, rows, cols, row_bytes);
            for (int64_t n : ns) {
                if (n == 33 && (rows > 5 || cols > 300)) continue;
                const int64_t x_stride = cols + c.irand(0, 3), y_stride = rows + 2;
                const auto x = float_acts(c, n, cols, x_stride, 2.0f);
                std::vector<float> full(size_t(n * y_stride), std::nanf(""));
                ref::float_matmul(type, w.data(), row_bytes, cols, x.data(), n, x_stride, full.data(), y_stride, 0, rows);
                for (const Range& r : row_ranges(c, rows)) {
                    std::vector<float> y(full.size(), std::nanf(""));
                    c.table.float_matmul(type, w.data(), row_bytes, cols, x.data(), n, x_stride, y.data(), y_stride,
                                         r.first, r.second);
                    expect_same(c, y, expected_rows(full, n, y_stride, r, std::nanf("")), y_stride,
                                cat(tname(type), " ", shape(rows, cols, n), rows_str(r)));
                }
            }
        }
    if (type != GgmlType::F32) return;
    // Sums that overflow to inf (and inf - inf to NaN) the same way.
    const int64_t cols = 40, rows = 3, n = 2;
    std::vector<uint8_t> w(size_t(rows * cols * 4));
    std::vector<float> x(size_t(n * cols));
    for (int64_t i = 0; i < rows * cols; ++i) {
        const float v = (i % 3 == 0 ? 3e38f : -1e38f) * float(c.irand(1, 3));
        std::memcpy(w.data() + 4 * i, &v, 4);
    }
    for (auto& v : x) v = float(c.irand(1, 4));
    std::vector<float> want(size_t(n * rows), 1.0f), got(size_t(n * rows), 2.0f);
    ref::float_matmul(GgmlType::F32, w.data(), cols * 4, cols, x.data(), n, cols, want.data(), rows, 0, rows);
    c.table.float_matmul(GgmlType::F32, w.data(), cols * 4, cols, x.data(), n, cols, got.data(), rows, 0, rows);
    expect_same(c, got, want, rows, "F32 overflowing sums", "row", NanMatch::any_nan);
}

void float_matmul_errors(Check& c, CaseSize) {
    std::vector<uint8_t> w(4096);
    std::vector<float> x(256), y(8);
    const KernelTable& t = c.table;
    c.expect(throws_error([&] { t.float_matmul(GgmlType::Q4_0, w.data(), 144, 256, x.data(), 1, 256, y.data(), 1, 0, 1); }),
             "Q4_0 (256 columns) throws tern::Error");
    c.expect(throws_error([&] { t.float_matmul(GgmlType::Q4_0, w.data(), 18, 32, x.data(), 1, 32, y.data(), 1, 0, 1); }),
             "Q4_0 (32 columns) throws tern::Error");
    c.expect(throws_error([&] { t.float_matmul(GgmlType::Q8_0, w.data(), 34, 33, x.data(), 1, 33, y.data(), 1, 0, 1); }),
             "Q8_0 with 33 columns throws tern::Error");
}

// ---------------------------------------------------------------- dequantize_row

// Every row of the float_matmul matrices, from an even and an odd address
// (blocks are unaligned in files); one guard float past cols stays.
void dequantize_case(Check& c, CaseSize size, GgmlType type) {
    for (int64_t cols : float_cols(type, size))
        for (int64_t rows : float_row_counts(size)) {
            if (rows == 80 && cols != 2560) continue;
            const int64_t row_bytes = natural_row_bytes(type, cols) + c.irand(0, 1) * 3;
            const auto w = float_rows(c, type, rows + 1, cols, row_bytes);
            for (int64_t offset : {0, 1})
                for (int64_t r = 0; r < rows; ++r) {
                    const uint8_t* src = w.data() + offset + r * row_bytes;
                    std::vector<float> want(size_t(cols) + 1, std::nanf("")), got = want;
                    ref::dequantize_row(type, src, want.data(), cols);
                    c.table.dequantize_row(type, src, got.data(), cols);
                    expect_same(c, got, want, cols + 1,
                                cat(tname(type), " cols=", cols, " row ", r, " offset ", offset), "column");
                }
        }
}

// Every F16 and BF16 bit pattern, at an odd address.
void dequantize_all_halves(Check& c, CaseSize) {
    std::vector<uint8_t> all(2 * 65536 + 1);
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint16_t v = uint16_t(h);
        std::memcpy(all.data() + 1 + 2 * h, &v, 2);
    }
    for (GgmlType type : {GgmlType::F16, GgmlType::BF16})
        for (int64_t cols : {int64_t(65536), int64_t(65531)}) {
            std::vector<float> want(size_t(cols) + 1, std::nanf("")), got = want;
            ref::dequantize_row(type, all.data() + 1, want.data(), cols);
            c.table.dequantize_row(type, all.data() + 1, got.data(), cols);
            expect_same(c, got, want, cols + 1, cat(tname(type), " all bit patterns, cols=", cols), "column");
        }
}

// Q8_0 / Q6_K blocks whose scale is 0, inf, NaN or subnormal.
void dequantize_block_scales(Check& c, CaseSize) {
    for (uint16_t d : {uint16_t(0x0000), uint16_t(0x7c00), uint16_t(0x7e01), uint16_t(0x7c01), uint16_t(0x0003),
                       uint16_t(0x8400)}) {
        std::vector<uint8_t> q8 = float_rows(c, GgmlType::Q8_0, 1, 64, 68);
        std::vector<uint8_t> q6 = float_rows(c, GgmlType::Q6_K, 1, 256, 210);
        std::memcpy(q8.data() + 34, &d, 2);
        std::memcpy(q6.data() + 208, &d, 2);
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%04x", d);
        std::vector<float> want(257, std::nanf("")), got = want;
        ref::dequantize_row(GgmlType::Q8_0, q8.data(), want.data(), 64);
        c.table.dequantize_row(GgmlType::Q8_0, q8.data(), got.data(), 64);
        expect_same(c, got, want, 257, cat("Q8_0 block scale ", hex), "column");
        want.assign(257, std::nanf(""));
        got = want;
        ref::dequantize_row(GgmlType::Q6_K, q6.data(), want.data(), 256);
        c.table.dequantize_row(GgmlType::Q6_K, q6.data(), got.data(), 256);
        expect_same(c, got, want, 257, cat("Q6_K block scale ", hex), "column");
    }
}

void dequantize_errors(Check& c, CaseSize) {
    std::vector<uint8_t> w(4096);
    std::vector<float> y(300);
    const KernelTable& t = c.table;
    c.expect(throws_error([&] { t.dequantize_row(GgmlType::TQ2_0, w.data(), y.data(), 256); }),
             "TQ2_0 throws tern::Error");
    c.expect(throws_error([&] { t.dequantize_row(GgmlType::Q8_0, w.data(), y.data(), 33); }),
             "Q8_0 with 33 columns throws tern::Error");
    c.expect(throws_error([&] { t.dequantize_row(GgmlType::Q6_K, w.data(), y.data(), 100); }),
             "Q6_K with 100 columns throws tern::Error");
}

// ---------------------------------------------------------------- qdot

// Prepare and matmul, odd row counts and strides, 1 to 16 tokens (the
// multi-token row blocking: groups of 8 in column chunks, then of up to 4;
// AVX2's rows decoded ahead, several blocks of them at 2560 columns, and its
// fallback for rows longer than that scratch at 65792), row sub-ranges; at
// n = 2 and n = 5 the int32 limit: Q6_K every weight -4096 (scale -128,
// code 0) against |a| = 32767, where ref must also equal the closed form.
void qdot_case(Check& c, CaseSize size, GgmlType type) {
    const bool full = size == CaseSize::full;
    constexpr int64_t kLong = 65792;
    const std::vector<int64_t> col_list = type == GgmlType::Q8_0
                                              ? (full ? std::vector<int64_t>{32, 96, 256, 544, 2560, kLong}
                                                      : std::vector<int64_t>{256, 2560})
                                              : (full ? std::vector<int64_t>{256, 512, 768, 2560, kLong}
                                                      : std::vector<int64_t>{256, 2560});
    // 300 rows: several row blocks of the several-token path (at most 128 rows each).
    const std::vector<int64_t> row_list = full ? std::vector<int64_t>{1, 3, 4, 5, 9, 17, 70, 300} : std::vector<int64_t>{9};
    const std::vector<int64_t> ns = full ? std::vector<int64_t>{1, 2, 3, 4, 5, 7, 8, 13, 16} : std::vector<int64_t>{1, 3, 8};
    for (int64_t cols : col_list)
        for (int64_t rows : cols == kLong ? std::vector<int64_t>{3} : row_list) {
            const int64_t row_bytes = natural_row_bytes(type, cols) + c.irand(0, 1) * 2;
            const auto base = float_rows(c, type, rows, cols, row_bytes);
            for (int64_t n : cols == kLong ? std::vector<int64_t>{3} : ns) {
                const bool kq = type == GgmlType::Q4_K || type == GgmlType::Q5_K;
                const bool extreme = (type == GgmlType::Q6_K || kq) && (n == 2 || n == 5);
                const int64_t bb = natural_row_bytes(type, 256);  // bytes per block
                const int64_t x_stride = cols + c.irand(0, 3), y_stride = rows + 2, stride = qdot_prepared_bytes(cols);
                auto x = float_acts(c, n, cols, x_stride, 2.0f);
                std::vector<uint8_t> w = base;
                // The largest products: Q6_K every weight -128 * -32 = 4096; Q4_K / Q5_K every
                // code 15 / 31 at scale 63 (w = 945 / 1953), every min 63 (dmin 0.0005).
                const double wmax = type == GgmlType::Q6_K ? 4096.0 : type == GgmlType::Q4_K ? 945.0 : 1953.0;
                auto block_d = [&](int64_t r, int64_t b) { return 0.001f * float(1 + (r * (cols / 256) + b) % 5); };
                if (extreme) {
                    for (int64_t r = 0; r < rows; ++r)
                        for (int64_t b = 0; b < cols / 256; ++b) {
                            uint8_t* blk = w.data() + r * row_bytes + b * bb;
                            const uint16_t d = f32_to_fp16(block_d(r, b));
                            if (kq) {
                                const uint16_t dmin = f32_to_fp16(0.0005f);
                                std::memset(blk, 0xff, size_t(bb));  // scales and mins 63, codes 15 (31)
                                std::memcpy(blk, &d, 2);
                                std::memcpy(blk + 2, &dmin, 2);
                            } else {
                                std::memset(blk, 0, 192);
                                std::memset(blk + 192, 0x80, 16);
                                std::memcpy(blk + 208, &d, 2);
                            }
                        }
                    for (int64_t j = 0; j < cols; ++j) x[size_t(j)] = 3.0f, x[size_t(x_stride + j)] = -3.0f;
                }
                const std::string what = cat(tname(type), " ", shape(rows, cols, n), extreme ? " extreme" : "");
                AlignedBuffer want_prep(size_t(n * stride)), got_prep(size_t(n * stride));
                ref::qdot_prepare(x.data(), n, cols, x_stride, want_prep.data());
                std::memset(got_prep.data(), 0x55, got_prep.size());
                c.table.qdot_prepare(x.data(), n, cols, x_stride, got_prep.data());
                expect_same(c, got_prep.data(), want_prep.data(), n * stride, stride, what + " qdot_prepare", "byte");
                std::vector<float> full_y(size_t(n * y_stride), std::nanf(""));
                ref::qdot_matmul(type, w.data(), row_bytes, cols, want_prep.data(), n, full_y.data(), y_stride, 0, rows);
                if (extreme) {  // token 0: sum over blocks of (wmax * d - mins) * 32767 * 256 / s
                    const double s = double(32767.0f / 3.0f), dmin = kq ? double(fp16_to_f32(f32_to_fp16(0.0005f))) : 0.0;
                    for (int64_t r = 0; r < rows; ++r) {
                        double expect = 0;
                        for (int64_t b = 0; b < cols / 256; ++b)
                            expect += (wmax * double(fp16_to_f32(f32_to_fp16(block_d(r, b)))) - 63.0 * dmin) * 32767.0 *
                                      256.0 / s;
                        c.expect(std::fabs(double(full_y[size_t(r)]) - expect) <= 1e-5 * expect,
                                 cat(what, ": ref row ", r, " = ", full_y[size_t(r)], ", closed form ", expect));
                    }
                }
                for (const Range& r : row_ranges(c, rows)) {
                    std::vector<float> y(full_y.size(), std::nanf(""));
                    c.table.qdot_matmul(type, w.data(), row_bytes, cols, got_prep.data(), n, y.data(), y_stride,
                                        r.first, r.second);
                    expect_same(c, y, expected_rows(full_y, n, y_stride, r, std::nanf("")), y_stride, what + rows_str(r));
                }
            }
        }
}

void qdot_errors(Check& c, CaseSize) {
    std::vector<uint8_t> w(4096);
    AlignedBuffer p(size_t(qdot_prepared_bytes(256)));
    std::vector<float> y(8);
    const KernelTable& t = c.table;
    c.expect(throws_error([&] { t.qdot_matmul(GgmlType::F16, w.data(), 512, 256, p.data(), 1, y.data(), 1, 0, 1); }),
             "F16 throws tern::Error");
    c.expect(throws_error([&] { t.qdot_matmul(GgmlType::Q6_K, w.data(), 210, 128, p.data(), 1, y.data(), 1, 0, 1); }),
             "Q6_K with 128 columns throws tern::Error");
    c.expect(throws_error([&] { t.qdot_matmul(GgmlType::Q8_0, w.data(), 34, 48, p.data(), 1, y.data(), 1, 0, 1); }),
             "Q8_0 with 48 columns throws tern::Error");
}

// ---------------------------------------------------------------- attention

std::vector<float> normals(Check& c, size_t count) {
    std::vector<float> v(count);
    for (auto& x : v) x = c.normal(1.5f);
    return v;
}

// Head sizes that are not multiples of the key block, ragged key counts, strides.
void attention_scores(Check& c, CaseSize size) {
    const bool full = size == CaseSize::full;
    constexpr int64_t B = kAttnKeyBlock;
    for (int64_t D : full ? std::vector<int64_t>{40, 64, 80, 128, 256} : std::vector<int64_t>{128})
        for (int64_t n : full ? std::vector<int64_t>{1, 2, 3, 5, 7, 16} : std::vector<int64_t>{3}) {
            const int64_t q_stride = D + 5, s_stride = B + 3;
            const auto q = normals(c, size_t(n * q_stride)), kt = normals(c, size_t(D * B));
            for (int64_t keys : full ? std::vector<int64_t>{1, 5, 16, 17, 33, 50, 63, 64} : std::vector<int64_t>{50}) {
                std::vector<float> want(size_t(n * s_stride), std::nanf("")), got = want;
                ref::attn_scores(q.data(), n, q_stride, D, kt.data(), keys, want.data(), s_stride);
                c.table.attn_scores(q.data(), n, q_stride, D, kt.data(), keys, got.data(), s_stride);
                expect_same(c, got, want, s_stride, cat("attn_scores D=", D, " n=", n, " keys=", keys), "key");
            }
        }
}

// Fresh (the output's NaNs must not be read) and accumulating.
void attention_values(Check& c, CaseSize size) {
    const bool full = size == CaseSize::full;
    for (int64_t D : full ? std::vector<int64_t>{40, 64, 80, 128, 256} : std::vector<int64_t>{128})
        for (int64_t n : full ? std::vector<int64_t>{1, 2, 3, 5, 7, 16} : std::vector<int64_t>{3})
            for (int64_t keys : full ? std::vector<int64_t>{1, 7, 50, 64, 70, 200} : std::vector<int64_t>{50}) {
                const int64_t a_stride = keys + 2, v_stride = D + 7, o_stride = D + 4;
                const auto a = normals(c, size_t(n * a_stride)), v = normals(c, size_t(keys * v_stride));
                for (bool accumulate : {false, true}) {
                    std::vector<float> want = accumulate ? normals(c, size_t(n * o_stride))
                                                         : std::vector<float>(size_t(n * o_stride), std::nanf(""));
                    std::vector<float> got = want;
                    ref::attn_values(a.data(), n, a_stride, v.data(), v_stride, keys, D, want.data(), o_stride, accumulate);
                    c.table.attn_values(a.data(), n, a_stride, v.data(), v_stride, keys, D, got.data(), o_stride,
                                        accumulate);
                    expect_same(c, got, want, o_stride,
                                cat("attn_values D=", D, " n=", n, " keys=", keys, " accumulate=", int(accumulate)),
                                "dimension");
                }
            }
}

// ---------------------------------------------------------------- row ops

// Rows of every length around the 8 / 16 lanes, model widths; magnitudes
// from tiny to huge (the double sum of squares must not overflow where ref's
// does not); in place and not.
void rowops_rmsnorm(Check& c, CaseSize size) {
    const bool full = size == CaseSize::full;
    for (int64_t dim : full ? std::vector<int64_t>{1, 3, 7, 8, 9, 15, 16, 17, 64, 128, 1000, 1024, 2560, 6913}
                            : std::vector<int64_t>{1024})
        for (float sigma : full ? std::vector<float>{1e-20f, 1e-3f, 1.0f, 300.0f, 1e30f} : std::vector<float>{1.0f}) {
            std::vector<float> x(static_cast<size_t>(dim)), w(static_cast<size_t>(dim));
            for (auto& v : x) v = c.normal(sigma);
            for (auto& v : w) v = 1.0f + c.normal(0.5f);
            for (bool in_place : {false, true}) {
                std::vector<float> want = in_place ? x : std::vector<float>(size_t(dim), std::nanf("")), got = want;
                ref::rmsnorm(x.data(), w.data(), dim, 1e-6f, want.data());
                if (in_place) got = x;
                c.table.rmsnorm(in_place ? got.data() : x.data(), w.data(), dim, 1e-6f, got.data());
                expect_same(c, got, want, dim, cat("rmsnorm dim=", dim, " sigma=", sigma, " in_place=", int(in_place)),
                            "element");
            }
        }
}

// Scores of every spread (terms under the e^-64 cutoff, ties at the maximum,
// -0 and +0 together), lengths around the lanes.
void rowops_softmax(Check& c, CaseSize size) {
    const bool full = size == CaseSize::full;
    for (int64_t n : full ? std::vector<int64_t>{1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 120, 1000, 4097}
                          : std::vector<int64_t>{120})
        for (float spread : full ? std::vector<float>{0.0f, 0.01f, 1.0f, 30.0f, 70.0f, 300.0f} : std::vector<float>{30.0f}) {
            std::vector<float> want(static_cast<size_t>(n));
            for (auto& v : want) v = spread * (2.0f * float(c.irand(0, 1 << 20)) / float(1 << 20) - 1.0f);
            if (n > 3 && spread == 0.0f) want[1] = -0.0f, want[2] = 0.0f;
            std::vector<float> got = want;
            ref::softmax(want.data(), n);
            c.table.softmax(got.data(), n);
            expect_same(c, got, want, n, cat("softmax n=", n, " spread=", spread), "element");
        }
}

// Sums over the whole int32 range, scales near the extremes of beta / s,
// stored and added to what is there.
void rowops_scale_sums(Check& c, CaseSize size) {
    const bool full = size == CaseSize::full;
    for (int64_t n : full ? std::vector<int64_t>{1, 2, 7, 8, 9, 16, 31, 33, 256, 1001} : std::vector<int64_t>{256})
        for (double k : full ? std::vector<double>{1.0, 0.0123456789, 3.7e-9, 1e30, -0.5} : std::vector<double>{0.0123})
            for (bool accumulate : {false, true}) {
                std::vector<int32_t> acc(static_cast<size_t>(n));
                for (auto& v : acc) v = int32_t(c.irand(INT32_MIN, INT32_MAX));
                if (n > 2) acc[1] = INT32_MIN, acc[2] = INT32_MAX;
                std::vector<float> want(static_cast<size_t>(n + 2), std::nanf(""));
                if (accumulate)
                    for (int64_t r = 0; r < n; ++r) want[size_t(r)] = c.normal(100.0f);
                std::vector<float> got = want;
                ref::scale_sums(acc.data(), n, k, want.data(), accumulate);
                c.table.scale_sums(acc.data(), n, k, got.data(), accumulate);
                expect_same(c, got, want, n + 2, cat("scale_sums n=", n, " k=", k, " accumulate=", int(accumulate)),
                            "element");
            }
}

// Gates across the sigmoid's whole range (past +-64, where e^-|z| is 0),
// signed zeros and huge values; out aliasing gate, as the forward pass runs it.
void rowops_ffn_act(Check& c, CaseSize size) {
    const bool full = size == CaseSize::full;
    for (Activation act : {Activation::relu2, Activation::silu, Activation::gelu_tanh})
        for (int64_t n : full ? std::vector<int64_t>{1, 5, 16, 17, 100, 3072} : std::vector<int64_t>{100}) {
            std::vector<float> gate(static_cast<size_t>(n)), up(static_cast<size_t>(n));
            for (auto& v : gate) v = c.normal(float(c.irand(0, 1) ? 3 : 40));
            for (auto& v : up) v = c.normal(2.0f);
            if (n > 4) gate[1] = -0.0f, gate[2] = 0.0f, gate[3] = 1e30f, gate[4] = -1e30f;
            std::vector<float> want(static_cast<size_t>(n), std::nanf("")), got = gate;
            ref::ffn_act_mul(act, gate.data(), up.data(), want.data(), n);
            c.table.ffn_act_mul(act, got.data(), up.data(), got.data(), n);
            expect_same(c, got, want, n, cat("ffn_act_mul act=", int(act), " n=", n), "element", NanMatch::any_nan);
        }
}

std::vector<ConformanceCase> make_cases() {
    std::vector<ConformanceCase> out = {{"quantize_rows", "random rows", quantize_random},
                                        {"quantize_rows", "edge rows", quantize_edges}};
    for (int f = 0; f < kTernaryFamilies; ++f) {
        const TernaryFamily fam = TernaryFamily(f);
        out.push_back({family_name(fam), "odd shapes", [fam](Check& c, CaseSize s) { ternary_odd_shapes(c, s, fam); }});
        out.push_back({family_name(fam), "many tokens", [fam](Check& c, CaseSize s) { ternary_many_tokens(c, s, fam); }});
        out.push_back({family_name(fam), "extreme values", [fam](Check& c, CaseSize s) { ternary_extremes(c, s, fam); }});
    }
    out.push_back({family_name(TernaryFamily::i2s), "from I2_S bytes", i2s_from_file});
    const GgmlType float_types[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                                    GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
    for (GgmlType t : float_types)
        out.push_back({"float_matmul", tname(t), [t](Check& c, CaseSize s) { float_matmul_case(c, s, t); }});
    out.push_back({"float_matmul", "unsupported types", float_matmul_errors});
    for (GgmlType t : float_types)
        out.push_back({"dequantize_row", tname(t), [t](Check& c, CaseSize s) { dequantize_case(c, s, t); }});
    out.push_back({"dequantize_row", "all halves", dequantize_all_halves});
    out.push_back({"dequantize_row", "block scales", dequantize_block_scales});
    out.push_back({"dequantize_row", "unsupported types", dequantize_errors});
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q4_K, GgmlType::Q5_K})
        out.push_back({"qdot", tname(t), [t](Check& c, CaseSize s) { qdot_case(c, s, t); }});
    out.push_back({"qdot", "unsupported types", qdot_errors});
    out.push_back({"attention", "scores", attention_scores});
    out.push_back({"attention", "values", attention_values});
    out.push_back({"rowops", "rmsnorm", rowops_rmsnorm});
    out.push_back({"rowops", "softmax", rowops_softmax});
    out.push_back({"rowops", "scale_sums", rowops_scale_sums});
    out.push_back({"rowops", "ffn activations", rowops_ffn_act});
    return out;
}

// FNV-1a: a seed per case that does not depend on the standard library.
uint64_t case_seed(const ConformanceCase& c, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (char ch : c.kernel + "/" + c.name) h = (h ^ uint8_t(ch)) * 1099511628211ull;
    return h;
}

}  // namespace

const std::vector<ConformanceCase>& conformance_cases() {
    static const std::vector<ConformanceCase> cases = make_cases();
    return cases;
}

bool table_offers(const KernelTable& t, const std::string& kernel) {
    for (int f = 0; f < kTernaryFamilies; ++f)
        if (kernel == family_name(TernaryFamily(f))) {
            const TernaryKernels& k = t.ternary[f];
            return k.repack && k.prepared_bytes && k.prepare && k.matmul;
        }
    if (kernel == "quantize_rows") return t.quantize_rows;
    if (kernel == "float_matmul") return t.float_matmul;
    if (kernel == "dequantize_row") return t.dequantize_row;
    if (kernel == "qdot") return t.qdot_prepare && t.qdot_matmul;
    if (kernel == "attention") return t.attn_scores && t.attn_values;
    if (kernel == "rowops") return t.rmsnorm && t.softmax && t.scale_sums && t.ffn_act_mul;
    return false;
}

CaseResult run_case(const ConformanceCase& c, const KernelTable& table, CaseSize size, uint64_t seed) {
    Check check(table, std::string(table.name) + " " + c.kernel + " " + c.name + ": ", case_seed(c, seed));
    if (!table_offers(table, c.kernel)) {
        check.result.offered = false;
        check.expect(false, "not offered (a null entry in the table)");
        return check.result;
    }
    try {
        c.run(check, size);
    } catch (const std::exception& e) {
        check.expect(false, std::string("threw: ") + e.what());
    }
    return check.result;
}

CaseResult check_tl_steps(const KernelTable& table, const TlLayout& L, uint64_t seed) {
    Check c(table, std::string(table.name) + " TL steps: ", seed);
    try {
        // Build: every entry of one token's table, past the activations' end too.
        for (int64_t cols : {1, 251, 256, 507, 700, 2555, 2560, 6907})
            for (ActFill fill : {ActFill::random, ActFill::max, ActFill::min, ActFill::alternating}) {
                const int64_t pc = round_up(cols, kTernaryColAlign);
                const auto a = test_activations(c.rng, 1, cols, pc, fill);
                const std::string label = cat("cols=", cols, " a", int(fill));
                std::vector<int16_t> r1(size_t(pc / 2 * ref::kTl1Entries));
                ref::tl1_build_table(a.data(), pc, r1.data());
                AlignedBuffer t1(size_t(L.tl1_bytes(pc)));
                std::memset(t1.data(), 0xcc, t1.size());
                L.tl1_build(a.data(), pc, t1.data());
                std::vector<int16_t> got, want;
                for (int64_t p = 0; p < pc / 2; ++p)
                    for (int i = 0; i < 16; ++i) {
                        got.push_back(L.tl1_entry(t1.data(), p, i));
                        want.push_back(i < ref::kTl1Entries ? r1[size_t(p * ref::kTl1Entries + i)] : int16_t(0));
                    }
                expect_same(c, got, want, 16, label + " tl1 table build", "entry", NanMatch::exact, "pair");
                const int64_t G = ref::tl2_groups(pc);
                std::vector<int16_t> r2(size_t(G * ref::kTl2Entries));
                ref::tl2_build_table(a.data(), pc, r2.data());
                AlignedBuffer t2(size_t(L.tl2_bytes(pc)));
                std::memset(t2.data(), 0xcc, t2.size());
                L.tl2_build(a.data(), pc, t2.data());
                got.clear();
                want.clear();
                for (int64_t g = 0; g < L.tl2_groups(pc); ++g)
                    for (int i = 0; i < L.tl2_width; ++i) {
                        const int v = i % 16;
                        const int16_t e = g < G && v < ref::kTl2Entries ? r2[size_t(g * ref::kTl2Entries + v)] : 0;
                        got.push_back(L.tl2_entry(t2.data(), g, i));
                        want.push_back(i < 16 ? e : int16_t(-e));
                    }
                expect_same(c, got, want, L.tl2_width, label + " tl2 table build", "entry", NanMatch::exact, "group");
            }
        // Lookup: the table's matmul over ref's tables in its layout, against ref's lookups.
        const std::pair<int64_t, int64_t> shapes[] = {{5, 256},  {70, 700},  {129, 2560}, {37, 1},
                                                      {37, 256}, {37, 700}, {37, 2560}};
        for (const auto& [rows, cols] : shapes) {
            const TernaryMatrix m = test_matrix(c.rng, rows, cols, WeightFill::random);
            const int64_t pc = m.padded_cols;
            const PackedTernary pr1 = ref::tl1_repack(m), pr2 = ref::tl2_repack(m);
            const TernaryKernels& k1 = table.ternary[int(TernaryFamily::tl1)];
            const TernaryKernels& k2 = table.ternary[int(TernaryFamily::tl2)];
            const PackedTernary p1 = k1.repack(m), p2 = k2.repack(m);
            for (ActFill fill : {ActFill::random, ActFill::max, ActFill::min, ActFill::alternating}) {
                const auto a = test_activations(c.rng, 1, cols, pc, fill);
                const std::string label = cat(shape(rows, cols, 1), " a", int(fill));
                std::vector<int16_t> r1(size_t(pc / 2 * ref::kTl1Entries));
                ref::tl1_build_table(a.data(), pc, r1.data());
                AlignedBuffer t1(size_t(L.tl1_bytes(pc)));
                L.tl1_from_ref(r1.data(), pc, t1.data());
                std::vector<int32_t> y(static_cast<size_t>(rows), kSentinel), want = y;
                k1.matmul(p1, t1.data(), 1, y.data(), rows, 0, rows);
                for (int64_t r = 0; r < rows; ++r)
                    want[size_t(r)] = ref::tl1_lookup_row(pr1.data.data() + r * (pc / 4), r1.data(), pc / 2);
                expect_same(c, y, want, rows, label + " tl1 lookup over ref's table");
                const int64_t G = ref::tl2_groups(pc);
                std::vector<int16_t> r2(size_t(G * ref::kTl2Entries));
                ref::tl2_build_table(a.data(), pc, r2.data());
                AlignedBuffer t2(size_t(L.tl2_bytes(pc)));
                L.tl2_from_ref(r2.data(), pc, t2.data());
                std::fill(y.begin(), y.end(), kSentinel);
                k2.matmul(p2, t2.data(), 1, y.data(), rows, 0, rows);
                const uint8_t* idx = pr2.data.data();
                const uint8_t* sgn = idx + rows * pr2.param[1];
                for (int64_t r = 0; r < rows; ++r)
                    want[size_t(r)] = ref::tl2_lookup_row(idx + r * pr2.param[1], sgn + r * pr2.param[2], r2.data(), G);
                expect_same(c, y, want, rows, label + " tl2 lookup over ref's table");
            }
        }
    } catch (const std::exception& e) {
        c.expect(false, std::string("threw: ") + e.what());
    }
    return c.result;
}

std::vector<SelfTestResult> self_test(const KernelTable& table, uint64_t seed) {
    std::vector<SelfTestResult> out;
    for (const ConformanceCase& c : conformance_cases()) {
        if (out.empty() || out.back().kernel != c.kernel) {
            SelfTestResult r;
            r.kernel = c.kernel;
            r.offered = table_offers(table, c.kernel);
            r.passed = true;
            out.push_back(std::move(r));
        }
        SelfTestResult& r = out.back();
        if (!r.offered) continue;
        const CaseResult cr = run_case(c, table, CaseSize::quick, seed);
        if (cr.failed && r.passed) {
            r.passed = false;
            r.detail = cr.failures.front();
        }
    }
    return out;
}

}  // namespace tern::kernels
