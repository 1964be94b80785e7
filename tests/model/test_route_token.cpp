// route_token (model/blocks/moe_routing) against the float64 reference's
// DeepSeekMoE gate (tests/reference/ref_math route()) on its own: softmax and
// sigmoid scoring, group-limited selection (group max without a bias, top-2
// sum with one), the selection-only bias, renormalisation, the routed scale,
// and ties (both break them towards the lower expert / group index).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "model/blocks/moe_routing.h"
#include "reference/ref_math.h"

namespace dseek {
namespace {

struct Case {
  const char* name;
  RoutingConfig cfg;
  bool bias;
};

struct Chosen {
  std::vector<int32_t> experts;  // ascending
  std::vector<double> weights;
};

Chosen run_engine(const RoutingConfig& cfg, const std::vector<float>& logits, const std::vector<float>& bias) {
  std::vector<float> scratch(static_cast<size_t>(route_scratch_floats(cfg))), w(static_cast<size_t>(cfg.n_used));
  std::vector<int32_t> idx(static_cast<size_t>(cfg.n_used));
  route_token(cfg, logits.data(), bias.empty() ? nullptr : bias.data(), scratch.data(), idx.data(), w.data());
  return {idx, std::vector<double>(w.begin(), w.end())};
}

Chosen run_reference(const RoutingConfig& cfg, const std::vector<float>& logits, const std::vector<float>& bias) {
  const reference::RouteParams p{.sigmoid = cfg.sigmoid, .n_group = cfg.n_group, .n_group_used = cfg.n_group_used,
                                 .n_used = cfg.n_used, .norm = cfg.normalize, .scale = cfg.scale};
  const reference::Routing r = reference::route(reference::Vec(logits.begin(), logits.end()),
                                                reference::Vec(bias.begin(), bias.end()), p);
  std::vector<std::pair<int32_t, double>> by_index;
  for (size_t k = 0; k < r.experts.size(); ++k) by_index.emplace_back(static_cast<int32_t>(r.experts[k]), r.weights[k]);
  std::sort(by_index.begin(), by_index.end());
  Chosen c;
  for (const auto& [e, w] : by_index) c.experts.push_back(e), c.weights.push_back(w);
  return c;
}

void expect_same(const Chosen& got, const Chosen& want, const std::string& what) {
  ASSERT_EQ(got.experts, want.experts) << what;
  for (size_t k = 0; k < got.weights.size(); ++k)
    EXPECT_NEAR(got.weights[k], want.weights[k], 1e-6 * std::max(1.0, std::abs(want.weights[k]))) << what << " k=" << k;
}

const Case kCases[] = {
    {"softmax", {.n_expert = 16, .n_used = 4}, false},
    {"softmax_norm_scale", {.n_expert = 16, .n_used = 4, .normalize = true, .scale = 16.0f}, false},
    {"softmax_groups", {.n_expert = 16, .n_used = 3, .n_group = 4, .n_group_used = 2, .scale = 1.5f}, false},
    {"sigmoid", {.n_expert = 8, .n_used = 2, .sigmoid = true}, false},
    {"sigmoid_bias_groups_norm", {.n_expert = 32, .n_used = 4, .n_group = 8, .n_group_used = 3, .sigmoid = true,
                                  .normalize = true, .scale = 2.5f}, true},
    {"sigmoid_bias_no_groups", {.n_expert = 16, .n_used = 6, .sigmoid = true, .normalize = true}, true},
    {"one_expert_per_group", {.n_expert = 8, .n_used = 2, .n_group = 8, .n_group_used = 4, .sigmoid = true}, true},
    {"all_used", {.n_expert = 6, .n_used = 6, .normalize = true}, false},
};

TEST(RouteToken, MatchesFloat64ReferenceOnRandomLogits) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> logit(0.0f, 2.0f), bias_dist(0.0f, 0.3f);
  for (const Case& c : kCases)
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<float> logits(static_cast<size_t>(c.cfg.n_expert)), bias;
      for (float& v : logits) v = logit(rng);
      if (c.bias) {
        bias.resize(logits.size());
        for (float& v : bias) v = bias_dist(rng);
      }
      expect_same(run_engine(c.cfg, logits, bias), run_reference(c.cfg, logits, bias),
                  std::string(c.name) + " trial " + std::to_string(trial));
    }
}

TEST(RouteToken, TiesGoToTheLowerExpertAndGroup) {
  for (const Case& c : kCases) {
    const std::vector<float> logits(static_cast<size_t>(c.cfg.n_expert), 0.25f);
    const std::vector<float> bias(c.bias ? logits.size() : 0, 0.0f);
    const Chosen got = run_engine(c.cfg, logits, bias);
    expect_same(got, run_reference(c.cfg, logits, bias), c.name);
    for (int32_t k = 0; k < static_cast<int32_t>(got.experts.size()); ++k) EXPECT_EQ(got.experts[k], k) << c.name;
  }
}

TEST(RouteToken, BiasChoosesButDoesNotWeight) {
  const RoutingConfig cfg{.n_expert = 8, .n_used = 2, .sigmoid = true};
  const std::vector<float> logits = {3, 2, 1, 0, 0, 0, 0, 0};
  const std::vector<float> bias = {0, 0, 0, 0, 0, 0, 5, 5};
  const Chosen got = run_engine(cfg, logits, bias);
  expect_same(got, run_reference(cfg, logits, bias), "bias");
  EXPECT_EQ(got.experts, (std::vector<int32_t>{6, 7}));
  EXPECT_NEAR(got.weights[0], 0.5, 1e-7);  // sigmoid(0): the bias is not in the weight
}

TEST(RouteToken, GroupLimitKeepsOnlyTheBestGroups) {
  // Without a bias a group scores its maximum (V2); group 1 holds the single best expert,
  // group 0 the next three: with one group kept, all picks come from group 1.
  const RoutingConfig cfg{.n_expert = 8, .n_used = 2, .n_group = 2, .n_group_used = 1};
  const std::vector<float> logits = {4, 4, 4, 0, 5, 0, 0, 0};
  const Chosen got = run_engine(cfg, logits, {});
  expect_same(got, run_reference(cfg, logits, {}), "groups");
  EXPECT_EQ(got.experts, (std::vector<int32_t>{4, 5}));
}

}  // namespace
}  // namespace dseek
