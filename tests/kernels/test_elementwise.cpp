// The SIMD element-wise kernels against float64 and the scalar loops: the
// vector exp within 2 ulp of the exact value over the whole float range
// (overflow to inf, underflow to subnormals and 0, NaN and +-inf), SiLU-gated
// products within a few ulp of the scalar formula, for every length and tail.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

// Distance in units in the last place of the float nearest `want`.
double ulps(float got, double want) {
  const float w = static_cast<float>(want);
  if (std::isinf(w) || std::isinf(got)) return got == w ? 0.0 : 1e9;
  const float ulp = std::nextafter(std::fabs(w), std::numeric_limits<float>::infinity()) - std::fabs(w);
  return std::fabs(static_cast<double>(got) - want) / static_cast<double>(ulp);
}

TEST(Elementwise, VectorExpIsWithinTwoUlpEverywhere) {
  const ElementwiseTable* t = elementwise_table(Isa::kAvx512);
  if (!t) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::vector<float> x;
  for (float v = -110.0f; v <= 100.0f; v += 0.01234f) x.push_back(v);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int i = 0; i < 10000; ++i) x.push_back(u(rng));  // the softmax range, densely
  const std::vector<float> in = x;
  t->exp_shift(x.data(), 0.0f, static_cast<int64_t>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const double want = std::exp(static_cast<double>(in[i]));
    if (want < std::numeric_limits<float>::min()) {  // subnormal results: absolute error within one subnormal step
      EXPECT_LE(std::fabs(x[i] - want), std::numeric_limits<float>::denorm_min()) << in[i];
      continue;
    }
    worst = std::max(worst, ulps(x[i], want));
    ASSERT_LE(ulps(x[i], want), 2.0) << "exp(" << in[i] << ") = " << x[i] << ", want " << want;
  }
  std::printf("vector exp: worst error %.2f ulp over %zu values\n", worst, in.size());
  float special[] = {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                     std::numeric_limits<float>::quiet_NaN(), 88.8f, -104.0f, 0.0f};
  t->exp_shift(special, 0.0f, 6);
  EXPECT_EQ(special[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(special[1], 0.0f);
  EXPECT_TRUE(std::isnan(special[2]));
  EXPECT_EQ(special[3], std::numeric_limits<float>::infinity());
  EXPECT_EQ(special[4], 0.0f);
  EXPECT_EQ(special[5], 1.0f);
  // The shift is subtracted in float first, as softmax's scalar loop does.
  float shifted[] = {3.0f, 1.0f};
  t->exp_shift(shifted, 3.0f, 2);
  EXPECT_EQ(shifted[0], 1.0f);
  EXPECT_LE(ulps(shifted[1], std::exp(-2.0)), 2.0);
}

TEST(Elementwise, SiluMulMatchesTheScalarFormula) {
  const ElementwiseTable* t = elementwise_table(Isa::kAvx512);
  if (!t) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (int64_t n : {1, 15, 16, 17, 100, 1408}) {
    std::vector<float> g(static_cast<size_t>(n)), u(g.size()), got(g.size()), want(g.size());
    for (auto& v : g) v = normal(rng);
    for (auto& v : u) v = normal(rng);
    g[0] = 200.0f;  // exp(-g) underflows: silu(g) = g
    if (n > 1) g[1] = -200.0f;  // exp(-g) overflows: silu(g) = -0
    t->silu_mul(g.data(), u.data(), got.data(), n);
    silu_mul_ref(g.data(), u.data(), want.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double exact = static_cast<double>(g[static_cast<size_t>(i)]) / (1.0 + std::exp(-static_cast<double>(g[static_cast<size_t>(i)]))) *
                           u[static_cast<size_t>(i)];
      const float w = want[static_cast<size_t>(i)], o = got[static_cast<size_t>(i)];
      // Both within a few ulp of the exact product (three roundings each), hence of each other.
      EXPECT_LE(std::fabs(o - exact), 4 * std::fabs(exact) * 0x1p-23 + 1e-30) << "n=" << n << " i=" << i;
      EXPECT_LE(std::fabs(o - w), 8 * std::fabs(exact) * 0x1p-23 + 1e-30) << "n=" << n << " i=" << i;
    }
    // In place (out aliasing gate), as the MLP calls it.
    std::vector<float> inplace = g;
    t->silu_mul(inplace.data(), u.data(), inplace.data(), n);
    EXPECT_EQ(inplace, got);
  }
}

TEST(Elementwise, SoftmaxSumsToOneAndKeepsOrder) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t n : {1, 5, 16, 33, 1000}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(rng);
    const std::vector<float> in = x;
    softmax(x.data(), n);
    double sum = 0, zsum = 0;
    const float mx = *std::max_element(in.begin(), in.end());
    for (float v : in) zsum += std::exp(static_cast<double>(v) - mx);
    for (int64_t i = 0; i < n; ++i) {
      sum += x[static_cast<size_t>(i)];
      const double want = std::exp(static_cast<double>(in[static_cast<size_t>(i)]) - mx) / zsum;
      // float rounding of x - max alone moves a value by up to ~1e-6 relative at |x| ~ 10
      EXPECT_NEAR(x[static_cast<size_t>(i)], want, 1e-5 * want + 1e-12) << "n=" << n << " i=" << i;
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

}  // namespace
}  // namespace dseek::kernels
