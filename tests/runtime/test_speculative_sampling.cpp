// Speculative sampling leaves the output distribution unchanged. Chi-square
// goodness-of-fit tests against the exact distribution, each at a false-
// failure rate of 1e-4 with fixed seeds (so a pass is reproducible): the
// acceptance step alone on fixed logits, and whole generations of the
// default model with MTP and n-gram drafts (the joint law of the first three
// tokens, computed exactly from plain forwards).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "runtime/generate.h"
#include "support/model_helpers.h"

namespace dseek {
namespace {

// Pearson's statistic of `counts` against probabilities `p` (N draws), cells
// with expected count < 5 pooled; true if below the upper 1e-4 quantile
// (Wilson-Hilferty approximation of the chi-square quantile).
bool fits(const std::map<int64_t, double>& p, const std::map<int64_t, int64_t>& counts, int64_t N, double* stat) {
  double chi = 0, pooled_e = 0, pooled_o = 0;
  int df = -1;
  for (const auto& [k, pk] : p) {
    const double e = pk * static_cast<double>(N);
    const auto it = counts.find(k);
    const double o = it == counts.end() ? 0.0 : static_cast<double>(it->second);
    if (e < 5) {
      pooled_e += e, pooled_o += o;
      continue;
    }
    chi += (o - e) * (o - e) / e;
    ++df;
  }
  for (const auto& [k, c] : counts)
    if (!p.count(k)) pooled_o += static_cast<double>(c);  // a token of probability 0: fails unless pooled tiny
  if (pooled_e > 0 || pooled_o > 0) {
    if (pooled_e <= 0) return *stat = INFINITY, false;
    chi += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    ++df;
  }
  *stat = chi;
  if (df < 1) return true;
  const double z = 3.719, a = 2.0 / (9.0 * df);
  return chi < df * std::pow(1 - a + z * std::sqrt(a), 3);
}

TEST(SpeculativeSampling, AcceptanceStepKeepsTheDistribution) {
  const std::vector<float> logits = {2.0f, 1.5f, 1.4f, 0.3f, -0.5f, -1.0f, 0.9f, 1.1f, -3.0f, 0.0f};
  for (const float top_p : {1.0f, 0.8f})
    for (const int32_t draft : {0, 3, 8}) {  // likely, unlikely, and (with top-p) truncated away
      SamplingParams sp;
      sp.temperature = 0.9f;
      sp.top_p = top_p;
      sp.seed = 1234 + static_cast<uint64_t>(draft);
      Sampler s(sp);
      std::map<int64_t, double> p;
      for (const auto& c : s.distribution(logits, {})) p[c.id] = c.prob;
      std::map<int64_t, int64_t> counts;
      const int64_t N = 100000;
      for (int64_t i = 0; i < N; ++i) ++counts[s.verify_draft(logits, {}, draft).token];
      double chi = 0;
      EXPECT_TRUE(fits(p, counts, N, &chi)) << "top_p " << top_p << " draft " << draft << ": chi2 " << chi;
    }
}

const std::filesystem::path kDefaultModel = std::filesystem::path(DSEEK_SOURCE_DIR) / "assets/shakespeare/dseek-shakespeare.gguf";

SamplingParams sampling() {
  SamplingParams sp;
  sp.temperature = 1.0f;
  sp.top_k = 4;  // 64 joint outcomes for three tokens
  return sp;
}

// The exact law of the first three sampled tokens, as key t1 * V^2 + t2 * V + t3.
std::map<int64_t, double> exact_three(const Model& m, const std::vector<int32_t>& prompt, ThreadPool& pool) {
  const int64_t V = m.n_vocab();
  std::map<int64_t, double> out;
  Sampler s(sampling());
  std::vector<float> logits(static_cast<size_t>(V));
  auto next = [&](const std::vector<int32_t>& seq) {
    KvCache c = m.new_cache(static_cast<int64_t>(seq.size()));
    ForwardOptions fo;
    fo.all_logits = false;
    EXPECT_TRUE(m.forward(seq, c, pool, fo, logits.data()).ok());
    return s.distribution(logits, seq);
  };
  for (const auto& a : next(prompt)) {
    auto pa = prompt;
    pa.push_back(a.id);
    for (const auto& b : next(pa)) {
      auto pb = pa;
      pb.push_back(b.id);
      for (const auto& c : next(pb)) out[(a.id * V + b.id) * V + c.id] = double(a.prob) * b.prob * c.prob;
    }
  }
  return out;
}

TEST(SpeculativeSampling, GenerationsKeepTheJointDistribution) {
  auto m = test::load_model_or_fail(kDefaultModel.string());
  ASSERT_TRUE(m);
  ThreadPool pool(1);
  // Start, the model's greedy continuation, start again: n-gram drafts then
  // propose that continuation, which sampling often follows.
  const std::vector<int32_t> start = {1, 300, 301, 302};
  std::vector<int32_t> prompt = start;
  {
    SamplingParams sp;
    sp.temperature = 0;
    Sampler greedy(sp);
    GenerateOptions opt;
    opt.max_new_tokens = 6;
    auto g = generate(*m, pool, start, greedy, opt, nullptr);
    ASSERT_TRUE(g.ok());
    prompt.insert(prompt.end(), g->tokens.begin(), g->tokens.end());
    prompt.insert(prompt.end(), start.begin(), start.end());
  }
  const auto p = exact_three(*m, prompt, pool);
  const int64_t V = m->n_vocab(), N = 3000;
  for (const char* spec : {"mtp:2", "ngram:2"}) {
    std::map<int64_t, int64_t> counts;
    int64_t accepted = 0;
    for (int64_t seed = 0; seed < N; ++seed) {
      SamplingParams sp = sampling();
      sp.seed = 777 + static_cast<uint64_t>(seed);
      Sampler s(sp);
      GenerateOptions opt;
      opt.max_new_tokens = 3;
      opt.spec = parse_spec(spec).value();
      auto r = generate(*m, pool, prompt, s, opt, nullptr);
      ASSERT_TRUE(r.ok() && r->tokens.size() == 3) << r.message();
      ++counts[(r->tokens[0] * V + r->tokens[1]) * V + r->tokens[2]];
      for (int64_t a : r->spec.accepted) accepted += a;
    }
    double chi = 0;
    EXPECT_TRUE(fits(p, counts, N, &chi)) << spec << ": chi2 " << chi;
    EXPECT_GT(accepted, 0) << spec << ": the drafts were never accepted, so the test proves little";
    std::printf("%s: chi2 %.1f over %zu outcomes, %lld drafts accepted in %lld runs\n", spec, chi, p.size(),
                static_cast<long long>(accepted), static_cast<long long>(N));
  }
}

}  // namespace
}  // namespace dseek
