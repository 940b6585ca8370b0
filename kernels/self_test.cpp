// Self-test of a kernel table against the reference (self_test.h). Baseline
// code: it only calls through the table's function pointers.
#include "kernels/self_test.h"

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/ref/ref.h"
#include "kernels/ternary_formats.h"

namespace tern::kernels {

namespace {

std::string shape_str(int64_t rows, int64_t cols, int64_t n) {
    return std::to_string(rows) + "x" + std::to_string(cols) + " n=" + std::to_string(n);
}

std::string test_quantize(const KernelTable& T, std::mt19937& rng) {
    for (int64_t cols : {1, 17, 33, 256, 1000, 2560})
        for (int64_t n : {1, 3}) {
            const int64_t stride = round_up(cols, 256);
            std::vector<float> x(size_t(n * cols));
            for (int64_t t = 0; t < n; ++t) {
                std::normal_distribution<float> nd(0.0f, std::pow(10.0f, float(int(rng() % 7)) - 3.0f));
                for (int64_t j = 0; j < cols; ++j) x[size_t(t * cols + j)] = nd(rng);
            }
            if (cols > 3) x[2] = 127.5f, x[3] = -0.5f;  // ties
            std::vector<int8_t> qr(size_t(n * stride), 1), q(size_t(n * stride), 2);
            std::vector<float> sr(size_t(n), NAN), s(size_t(n), NAN);
            ref::quantize_rows(x.data(), n, cols, cols, qr.data(), stride, sr.data());
            T.quantize_rows(x.data(), n, cols, cols, q.data(), stride, s.data());
            if (q != qr || std::memcmp(s.data(), sr.data(), s.size() * 4) != 0)
                return "differs at cols=" + std::to_string(cols) + " n=" + std::to_string(n);
        }
    return "";
}

std::string test_family(const KernelTable& T, TernaryFamily fam, std::mt19937& rng) {
    const TernaryKernels& k = T.ternary[int(fam)];
    struct Case {
        int64_t rows, cols, n;
        int wmode, amode;  // 0 random, 1 all +1 / all 127, 2 all -1 / all -128
    };
    const Case cases[] = {{7, 100, 1, 0, 0},  {33, 300, 3, 0, 0},   {70, 2560, 1, 0, 0}, {129, 777, 8, 0, 0},
                          {17, 6912, 2, 1, 2}, {17, 6912, 2, 2, 2}, {20, 6912, 1, 1, 1}, {65, 512, 33, 0, 0}};
    for (const Case& c : cases) {
        TernaryMatrix m(c.rows, c.cols, 1.0f);
        for (int64_t r = 0; r < c.rows; ++r)
            for (int64_t j = 0; j < c.cols; ++j) m.set(r, j, c.wmode == 1 ? 1 : c.wmode == 2 ? -1 : int(rng() % 3) - 1);
        std::vector<int8_t> q(size_t(c.n * m.padded_cols), 0);
        for (int64_t t = 0; t < c.n; ++t)
            for (int64_t j = 0; j < c.cols; ++j)
                q[size_t(t * m.padded_cols + j)] = c.amode == 1 ? int8_t(127) : c.amode == 2 ? int8_t(-128) : int8_t(rng());
        auto run = [&](const TernaryKernels& kk, int64_t rb, int64_t re) {
            const PackedTernary p = kk.repack(m);
            const int64_t pb = kk.prepared_bytes(m.padded_cols);
            AlignedBuffer prep(size_t(c.n * pb));
            kk.prepare(q.data(), c.n, m.padded_cols, m.padded_cols, prep.data());
            std::vector<int32_t> y(size_t(c.n * (c.rows + 1)), 0x7eadbeef);
            kk.matmul(p, prep.data(), c.n, y.data(), c.rows + 1, rb, re);
            return y;
        };
        const TernaryKernels& r = table_ref()->ternary[int(TernaryFamily::i2s)];
        const int64_t rb = c.rows > 4 ? 3 : 0, re = c.rows > 4 ? c.rows - 1 : c.rows;
        if (run(k, 0, c.rows) != run(r, 0, c.rows) || run(k, rb, re) != run(r, rb, re))
            return "differs at " + shape_str(c.rows, c.cols, c.n);
    }
    return "";
}

// One matrix per type, filled the way a converter would.
std::vector<uint8_t> float_weights(GgmlType type, int64_t rows, int64_t cols, std::mt19937& rng, int64_t* row_bytes) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> w(size_t(rows * cols));
    for (auto& v : w) v = nd(rng);
    std::vector<uint8_t> b;
    switch (type) {
        case GgmlType::F32:
            *row_bytes = cols * 4;
            b.resize(size_t(rows * *row_bytes));
            std::memcpy(b.data(), w.data(), b.size());
            break;
        case GgmlType::F16:
        case GgmlType::BF16:
            *row_bytes = cols * 2;
            b.resize(size_t(rows * *row_bytes));
            for (size_t i = 0; i < w.size(); ++i) {
                const uint16_t h = type == GgmlType::F16 ? f32_to_fp16(w[i]) : f32_to_bf16(w[i]);
                std::memcpy(b.data() + 2 * i, &h, 2);
            }
            break;
        case GgmlType::Q8_0:
            *row_bytes = cols / 32 * 34;
            b.resize(size_t(rows * *row_bytes));
            for (int64_t r = 0; r < rows; ++r)
                quantize_row_q8_0(w.data() + r * cols, reinterpret_cast<BlockQ8_0*>(b.data() + r * *row_bytes), cols);
            break;
        default:  // Q6_K: any bytes are valid blocks; keep d finite
            *row_bytes = cols / 256 * 210;
            b.resize(size_t(rows * *row_bytes));
            for (auto& v : b) v = uint8_t(rng());
            for (int64_t i = 0; i < rows * cols / 256; ++i) {
                const uint16_t d = f32_to_fp16(0.002f);
                std::memcpy(b.data() + i * 210 + 208, &d, 2);
            }
            break;
    }
    return b;
}

std::string test_float(const KernelTable& T, std::mt19937& rng, bool dequant) {
    for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q6_K}) {
        const bool plain = type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16;
        for (int64_t cols : {int64_t(256), int64_t(2560), plain ? int64_t(37) : int64_t(512)}) {
            const int64_t rows = 9;
            int64_t row_bytes = 0;
            const auto w = float_weights(type, rows, cols, rng, &row_bytes);
            const std::string where = std::string(type_name(uint32_t(type))) + " cols=" + std::to_string(cols);
            if (dequant) {
                std::vector<float> a(size_t(cols), NAN), b(size_t(cols), NAN);
                for (int64_t r = 0; r < rows; ++r) {
                    ref::dequantize_row(type, w.data() + r * row_bytes, a.data(), cols);
                    T.dequantize_row(type, w.data() + r * row_bytes, b.data(), cols);
                    if (std::memcmp(a.data(), b.data(), a.size() * 4) != 0) return "differs at " + where;
                }
                continue;
            }
            for (int64_t n : {1, 3, 5}) {
                std::normal_distribution<float> nd(0.0f, 1.0f);
                std::vector<float> x(size_t(n * cols));
                for (auto& v : x) v = nd(rng);
                std::vector<float> a(size_t(n * rows), NAN), b(size_t(n * rows), NAN);
                ref::float_matmul(type, w.data(), row_bytes, cols, x.data(), n, cols, a.data(), rows, 1, rows);
                T.float_matmul(type, w.data(), row_bytes, cols, x.data(), n, cols, b.data(), rows, 1, rows);
                if (std::memcmp(a.data(), b.data(), a.size() * 4) != 0)
                    return "differs at " + where + " n=" + std::to_string(n);
            }
        }
    }
    return "";
}

std::string test_qdot(const KernelTable& T, std::mt19937& rng) {
    for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q6_K})
        for (int64_t cols : {int64_t(256), int64_t(2560)}) {
            const int64_t rows = 9, stride = qdot_prepared_bytes(cols);
            int64_t row_bytes = 0;
            const auto w = float_weights(type, rows, cols, rng, &row_bytes);
            for (int64_t n : {1, 3, 8}) {
                std::normal_distribution<float> nd(0.0f, 1.0f);
                std::vector<float> x(size_t(n * cols));
                for (auto& v : x) v = nd(rng);
                AlignedBuffer pa(size_t(n * stride)), pb(size_t(n * stride));
                ref::qdot_prepare(x.data(), n, cols, cols, pa.data());
                T.qdot_prepare(x.data(), n, cols, cols, pb.data());
                const std::string where = std::string(type_name(uint32_t(type))) + " cols=" + std::to_string(cols) +
                                          " n=" + std::to_string(n);
                if (std::memcmp(pa.data(), pb.data(), pa.size()) != 0) return "prepare differs at " + where;
                std::vector<float> a(size_t(n * rows), NAN), b(size_t(n * rows), NAN);
                ref::qdot_matmul(type, w.data(), row_bytes, cols, pa.data(), n, a.data(), rows, 1, rows);
                T.qdot_matmul(type, w.data(), row_bytes, cols, pb.data(), n, b.data(), rows, 1, rows);
                if (std::memcmp(a.data(), b.data(), a.size() * 4) != 0) return "differs at " + where;
            }
        }
    return "";
}

std::string test_attention(const KernelTable& T, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int64_t D = 128, n = 3, keys = 50, B = kAttnKeyBlock;
    std::vector<float> q(size_t(n * D)), kt(size_t(D * B)), v(size_t(keys * D)), p(size_t(n * keys));
    for (auto* vec : {&q, &kt, &v, &p})
        for (auto& x : *vec) x = nd(rng);
    std::vector<float> a(size_t(n * B), NAN), b = a;
    ref::attn_scores(q.data(), n, D, D, kt.data(), keys, a.data(), B);
    T.attn_scores(q.data(), n, D, D, kt.data(), keys, b.data(), B);
    if (std::memcmp(a.data(), b.data(), a.size() * 4) != 0) return "scores differ";
    std::vector<float> c(size_t(n * D), NAN), d = c;
    ref::attn_values(p.data(), n, keys, v.data(), D, keys, D, c.data(), D, false);
    T.attn_values(p.data(), n, keys, v.data(), D, keys, D, d.data(), D, false);
    if (std::memcmp(c.data(), d.data(), c.size() * 4) != 0) return "values differ";
    return "";
}

}  // namespace

std::vector<SelfTestResult> self_test(const KernelTable& table, uint64_t seed) {
    std::mt19937 rng{static_cast<uint32_t>(seed)};
    std::vector<SelfTestResult> out;
    auto record = [&](const char* name, bool offered, auto&& fn) {
        SelfTestResult r;
        r.kernel = name;
        r.offered = offered;
        if (offered) {
            try {
                r.detail = fn();
            } catch (const std::exception& e) {
                r.detail = std::string("threw: ") + e.what();
            }
            r.passed = r.detail.empty();
        } else {
            r.passed = true;
        }
        out.push_back(std::move(r));
    };
    record("quantize_rows", table.quantize_rows != nullptr, [&] { return test_quantize(table, rng); });
    for (int f = 0; f < kTernaryFamilies; ++f) {
        const TernaryKernels& k = table.ternary[f];
        record(family_name(TernaryFamily(f)), k.repack && k.prepared_bytes && k.prepare && k.matmul,
               [&] { return test_family(table, TernaryFamily(f), rng); });
    }
    record("float_matmul", table.float_matmul != nullptr, [&] { return test_float(table, rng, false); });
    record("dequantize_row", table.dequantize_row != nullptr, [&] { return test_float(table, rng, true); });
    record("qdot", table.qdot_prepare && table.qdot_matmul, [&] { return test_qdot(table, rng); });
    record("attention", table.attn_scores && table.attn_values, [&] { return test_attention(table, rng); });
    return out;
}

}  // namespace tern::kernels
