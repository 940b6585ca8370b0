// The float steps of the forward pass against double-precision references:
// the reference table's row ops (kernels/rowops.inc; every SIMD table equals
// them bit for bit, kernels/conformance.cpp).
#include "kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace tern {
namespace {

// softmax uses its own vectorisable exp: it must stay within a few ulp of the
// exact result over the whole range a max-subtracted score can take,
// including scores far below the maximum (where libm would underflow).
TEST(Ops, SoftmaxMatchesDoubleReference) {
    std::mt19937 rng(7);
    for (int64_t n : {1, 2, 3, 7, 16, 33, 100, 1000, 4097}) {
        for (float spread : {0.01f, 1.0f, 10.0f, 60.0f, 300.0f}) {
            std::uniform_real_distribution<float> dist(-spread, spread);
            std::vector<float> x(static_cast<size_t>(n));
            for (auto& v : x) v = dist(rng);
            const std::vector<float> x0 = x;
            std::vector<double> ref(x.begin(), x.end());
            const double mx = *std::max_element(ref.begin(), ref.end());
            double sum = 0;
            for (auto& v : ref) sum += (v = std::exp(v - mx));
            kernels::table_ref()->softmax(x.data(), n);
            double total = 0;
            for (int64_t j = 0; j < n; ++j) {
                const double want = ref[size_t(j)] / sum, got = x[size_t(j)];
                total += got;
                const double d = std::fabs(double(x0[size_t(j)]) - mx);
                if (d > 64.01) {
                    // Terms below e^-64 are exactly 0 (kept out of subnormals).
                    ASSERT_EQ(got, 0.0) << "n=" << n << " spread=" << spread << " j=" << j;
                } else if (d < 63.99) {
                    // The exp's own error, plus rounding x - max to float
                    // (half an ulp of |x - max|, relative to e^(x - max)).
                    ASSERT_LE(std::fabs(got - want), (1e-6 + 1.2e-7 * d) * want)
                        << "n=" << n << " spread=" << spread << " j=" << j;
                }
            }
            EXPECT_NEAR(total, 1.0, 1e-5);
        }
    }
}

TEST(Ops, SoftmaxOfEqualValuesIsUniform) {
    std::vector<float> x(37, -3.25f);
    kernels::table_ref()->softmax(x.data(), 37);
    for (float v : x) EXPECT_FLOAT_EQ(v, 1.0f / 37.0f);
}

TEST(Ops, RmsnormMatchesDoubleReference) {
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    for (int64_t dim : {1, 7, 8, 9, 64, 2560, 6913}) {
        const size_t m = static_cast<size_t>(dim);
        std::vector<float> x(m), w(m), out(m);
        for (auto& v : x) v = dist(rng);
        for (auto& v : w) v = dist(rng);
        double ss = 0;
        for (float v : x) ss += double(v) * v;
        const double inv = 1.0 / std::sqrt(ss / double(dim) + 1e-5);
        kernels::table_ref()->rmsnorm(x.data(), w.data(), dim, 1e-5f, out.data());
        for (int64_t j = 0; j < dim; ++j) {
            const double want = double(w[size_t(j)]) * double(x[size_t(j)]) * inv;
            ASSERT_NEAR(out[size_t(j)], want, 1e-6 * std::fabs(want) + 1e-12) << "dim=" << dim << " j=" << j;
        }
    }
}

// SiLU and GELU-tanh through the vectorisable sigmoid: within a few ulp of
// the double-precision functions over the whole range, exact where the
// sigmoid saturates; ReLU² exact.
TEST(Ops, FfnActivationsMatchDoubleReference) {
    const kernels::KernelTable& ref = *kernels::table_ref();
    std::vector<float> gate, up;
    for (float g = -90.0f; g <= 90.0f; g += 0.0173f) gate.push_back(g);
    for (float g : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e30f, -1e30f}) gate.push_back(g);
    const int64_t n = int64_t(gate.size());
    up.assign(gate.size(), 1.0f);
    std::vector<float> out(gate.size());
    // The error: a few ulp, plus the float roundings in the sigmoid's argument z
    // (GELU's takes five, each up to half an ulp of z, relative to e^-|z|).
    auto check = [&](kernels::Activation act, auto exact, auto z_of) {
        ref.ffn_act_mul(act, gate.data(), up.data(), out.data(), n);
        for (int64_t j = 0; j < n; ++j) {
            const double g = gate[size_t(j)], want = exact(g), got = out[size_t(j)];
            if (std::isinf(want)) {
                ASSERT_EQ(got, want) << "act=" << int(act) << " g=" << g;
                continue;
            }
            // Absolute 1e-25: below e^-64 the sigmoid is 0 (|g|·e^-64 < 1e-25 for these gates).
            const double tol = (4e-7 + 3e-7 * std::fabs(z_of(g))) * std::fabs(want) + 1e-25;
            ASSERT_NEAR(got, want, tol) << "act=" << int(act) << " g=" << g;
        }
    };
    auto gelu_z = [](double g) { return 2.0 * std::sqrt(2.0 / 3.14159265358979323846) * (g + 0.044715 * g * g * g); };
    check(kernels::Activation::silu, [](double g) { return g / (1.0 + std::exp(-g)); }, [](double) { return 0.0; });
    // 0.5·g·(1 + tanh(u)) = g / (1 + e^-2u): the same function without the
    // cancellation of 1 + tanh(u) in double for large negative u.
    check(kernels::Activation::gelu_tanh, [&](double g) { return g / (1.0 + std::exp(-gelu_z(g))); }, gelu_z);
    check(kernels::Activation::relu2, [](double g) { return g > 0 ? double(float(g) * float(g)) : 0.0; },
          [](double) { return 0.0; });
}

// float(double(acc) * k), stored or added: exactly what the sums and the
// scale give in double, rounded once to float.
TEST(Ops, ScaleSumsRoundsTheDoubleProductOnce) {
    std::mt19937 rng(5);
    std::uniform_int_distribution<int32_t> sums(-(1 << 30), 1 << 30);
    for (int64_t n : {1, 7, 8, 17, 1000}) {
        std::vector<int32_t> acc(static_cast<size_t>(n));
        for (auto& v : acc) v = sums(rng);
        acc[0] = n > 1 ? INT32_MIN : acc[0];
        const double k = 0.61803398874989 / 97.3;
        std::vector<float> y(size_t(n), 2.5f), added = y;
        kernels::table_ref()->scale_sums(acc.data(), n, k, y.data(), false);
        kernels::table_ref()->scale_sums(acc.data(), n, k, added.data(), true);
        for (int64_t r = 0; r < n; ++r) {
            const float want = float(double(acc[size_t(r)]) * k);
            ASSERT_EQ(y[size_t(r)], want) << "n=" << n << " r=" << r;
            ASSERT_EQ(added[size_t(r)], 2.5f + want) << "n=" << n << " r=" << r;
        }
    }
}

}  // namespace
}  // namespace tern
