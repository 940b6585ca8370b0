// The float ops of the forward pass against double-precision references.
#include "ops/ops.h"

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
            ops::softmax(x.data(), n);
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
    ops::softmax(x.data(), 37);
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
        ops::rmsnorm(x.data(), w.data(), dim, 1e-5f, out.data());
        for (int64_t j = 0; j < dim; ++j) {
            const double want = double(w[size_t(j)]) * double(x[size_t(j)]) * inv;
            ASSERT_NEAR(out[size_t(j)], want, 1e-6 * std::fabs(want) + 1e-12) << "dim=" << dim << " j=" << j;
        }
    }
}

}  // namespace
}  // namespace tern
