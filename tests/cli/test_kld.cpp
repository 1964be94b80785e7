// The quantisation-quality statistics against a direct float64 computation:
// identical models give KL 0, full agreement and equal perplexities; a
// perturbed model gives the KL, agreement and perplexity computed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cli/tools/kld.h"

namespace dseek {
namespace {

std::vector<double> softmax64(const std::vector<float>& x) {
  double m = -1e300, s = 0;
  for (float v : x) m = std::max(m, static_cast<double>(v));
  std::vector<double> p(x.size());
  for (size_t i = 0; i < x.size(); ++i) s += p[i] = std::exp(x[i] - m);
  for (auto& v : p) v /= s;
  return p;
}

TEST(Kld, IdenticalModelsAgreeCompletely) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 3);
  KldAccumulator acc;
  for (int i = 0; i < 20; ++i) {
    std::vector<float> x(50);
    for (auto& v : x) v = nd(rng);
    acc.add(x.data(), x.data(), 50, i % 50);
  }
  const auto s = acc.summary();
  EXPECT_EQ(s.positions, 20);
  EXPECT_NEAR(s.kld_mean, 0.0, 1e-12);
  EXPECT_EQ(s.top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(s.ppl_base, s.ppl_quant);
}

TEST(Kld, MatchesDirectFloat64Computation) {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0, 2), noise(0, 0.7f);
  KldAccumulator acc;
  double kl_sum = 0, nll_b = 0, nll_q = 0, kl_max = 0;
  int agree = 0;
  const int n = 64, V = 33;
  for (int i = 0; i < n; ++i) {
    std::vector<float> b(V), q(V);
    for (int j = 0; j < V; ++j) b[j] = nd(rng), q[j] = b[j] + noise(rng);
    const int next = static_cast<int>(rng() % V);
    acc.add(b.data(), q.data(), V, next);
    const auto p = softmax64(b), r = softmax64(q);
    double kl = 0;
    for (int j = 0; j < V; ++j) kl += p[j] * std::log(p[j] / r[j]);
    kl_sum += kl;
    kl_max = std::max(kl_max, kl);
    nll_b -= std::log(p[next]);
    nll_q -= std::log(r[next]);
    agree += std::max_element(b.begin(), b.end()) - b.begin() == std::max_element(q.begin(), q.end()) - q.begin();
  }
  const auto s = acc.summary();
  EXPECT_NEAR(s.kld_mean, kl_sum / n, 1e-9);
  EXPECT_NEAR(s.kld_max, kl_max, 1e-9);
  EXPECT_GT(s.kld_mean, 0.01);  // the noise is large enough to matter
  EXPECT_DOUBLE_EQ(s.top1_agreement, static_cast<double>(agree) / n);
  EXPECT_NEAR(s.ppl_base, std::exp(nll_b / n), 1e-9 * std::exp(nll_b / n));
  EXPECT_NEAR(s.ppl_quant, std::exp(nll_q / n), 1e-9 * std::exp(nll_q / n));
  EXPECT_LE(s.kld_median, s.kld_p99);
  EXPECT_LE(s.kld_p99, s.kld_max);
}

}  // namespace
}  // namespace dseek
