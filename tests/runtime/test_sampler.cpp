// Sampler stages against hand-computed distributions, and seeded determinism.
// Frequencies are checked over 40000 draws with a 6-sigma binomial bound.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "runtime/sampler/sampler.h"

namespace dseek {
namespace {

std::vector<float> logits_of(std::vector<double> probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::vector<double> frequencies(const SamplingParams& p, const std::vector<float>& logits, int n = 40000) {
  Sampler s(p);
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < n; ++i) f[static_cast<size_t>(s.sample(logits, {}))] += 1.0 / n;
  return f;
}

void expect_freqs(const std::vector<double>& got, const std::vector<double>& want, int n = 40000) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const double sigma = std::sqrt(std::max(want[i] * (1 - want[i]), 1e-12) / n);
    EXPECT_NEAR(got[i], want[i], 6 * sigma + 1e-9) << "token " << i;
  }
}

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  EXPECT_EQ(s.sample(std::vector<float>{1, 5, 3, 5}, {}), 1);
}

TEST(Sampler, TemperatureOneFollowsTheSoftmax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 1;
  expect_freqs(frequencies(p, logits_of({0.5, 0.3, 0.2})), {0.5, 0.3, 0.2});
}

TEST(Sampler, TemperatureSharpens) {
  SamplingParams p;
  p.temperature = 0.5f;  // p^(1/T) = p^2, renormalised
  p.seed = 2;
  const double z = 0.25 + 0.09 + 0.04;
  expect_freqs(frequencies(p, logits_of({0.5, 0.3, 0.2})), {0.25 / z, 0.09 / z, 0.04 / z});
}

TEST(Sampler, TopKTopPMinP) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 3;
  p.top_k = 2;
  expect_freqs(frequencies(p, logits_of({0.5, 0.3, 0.2})), {0.625, 0.375, 0.0});
  p.top_k = 0;
  p.top_p = 0.7f;  // 0.5 < 0.7 <= 0.8: keep the first two
  expect_freqs(frequencies(p, logits_of({0.5, 0.3, 0.2})), {0.625, 0.375, 0.0});
  p.top_p = 0.4f;
  expect_freqs(frequencies(p, logits_of({0.5, 0.3, 0.2})), {1.0, 0.0, 0.0});
  p.top_p = 1.0f;
  p.min_p = 0.5f;  // keep p >= 0.25
  expect_freqs(frequencies(p, logits_of({0.5, 0.3, 0.2})), {0.625, 0.375, 0.0});
}

TEST(Sampler, Penalties) {
  SamplingParams p;
  std::vector<Candidate> c = {{0, 4.0f, 0}, {1, -1.0f, 0}, {2, 3.0f, 0}, {3, 2.0f, 0}};
  p.repetition_penalty = 2.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  const std::vector<int32_t> history = {0, 1, 2, 2, 2, 9};
  apply_penalties(p, history, c);
  EXPECT_FLOAT_EQ(c[0].logit, 4.0f / 2 - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(c[1].logit, -1.0f * 2 - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(c[2].logit, 3.0f / 2 - 0.5f - 0.75f);
  EXPECT_FLOAT_EQ(c[3].logit, 2.0f);  // unseen
  p.penalty_last_n = 1;               // only token 9 counts
  std::vector<Candidate> d = {{0, 4.0f, 0}};
  apply_penalties(p, history, d);
  EXPECT_FLOAT_EQ(d[0].logit, 4.0f);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferent) {
  SamplingParams p;
  p.temperature = 1.0f;
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(static_cast<double>(i)));
  auto draw = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(logits, out));
    return out;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(Sampler, ValidateRejectsAbsurdParameters) {
  SamplingParams p;
  EXPECT_TRUE(validate(p).ok());
  p.temperature = -1;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.top_p = 0;
  EXPECT_NE(validate(p).message().find("top_p"), std::string::npos);
  p = {};
  p.temperature = NAN;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.repetition_penalty = 0;
  EXPECT_FALSE(validate(p).ok());
}

}  // namespace
}  // namespace dseek
