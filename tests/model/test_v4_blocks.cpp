// DeepSeek-V4's pieces on their own: the Sinkhorn-Knopp projection of mHC,
// sqrt-softplus and hash routing, and the hyper-parameters from both
// config.json dialects (DeepSeek's and transformers').
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "model/arch/deepseek_v4_hparams.h"
#include "model/blocks/mhc.h"
#include "model/blocks/moe_routing.h"

namespace dseek {
namespace {

TEST(V4Sinkhorn, FirstPassIsRowSoftmaxPlusEpsThenColumnNormalisation) {
  float c[4] = {0.3f, -1.0f, 2.0f, 0.5f};
  const float eps = 1e-3f;
  mhc_sinkhorn(c, 2, 1, eps);
  double r[4] = {0.3, -1.0, 2.0, 0.5};
  for (int j = 0; j < 2; ++j) {
    const double a = std::exp(r[2 * j]), b = std::exp(r[2 * j + 1]);
    r[2 * j] = a / (a + b) + eps, r[2 * j + 1] = b / (a + b) + eps;
  }
  for (int k = 0; k < 2; ++k) {
    const double s = r[k] + r[2 + k];
    r[k] /= s + eps, r[2 + k] /= s + eps;
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(c[i], r[i], 1e-6) << i;
}

TEST(V4Sinkhorn, TwentyIterationsAreNearlyDoublyStochastic) {
  float c[16];
  for (int i = 0; i < 16; ++i) c[i] = static_cast<float>(std::sin(1.7 * i) * 3.0);
  mhc_sinkhorn(c, 4, 20, 1e-6f);
  for (int j = 0; j < 4; ++j) {
    float row = 0, col = 0;
    for (int k = 0; k < 4; ++k) row += c[j * 4 + k], col += c[k * 4 + j];
    EXPECT_NEAR(row, 1.0f, 1e-3f);
    EXPECT_NEAR(col, 1.0f, 1e-5f);  // the last step normalises columns
  }
}

TEST(V4Routing, SqrtSoftplusScoresBiasChoosesOnly) {
  const RoutingConfig cfg{.n_expert = 4, .n_used = 2, .sqrt_softplus = true, .normalize = true, .scale = 1.5f};
  const float logits[4] = {1.0f, -2.0f, 0.5f, 3.0f};
  const float bias[4] = {0.0f, 10.0f, 0.0f, 0.0f};  // expert 1 chosen for its bias, weighted by its score
  float scratch[16];
  int32_t idx[2];
  float w[2];
  route_token(cfg, logits, bias, scratch, idx, w);
  EXPECT_EQ(idx[0], 1);
  EXPECT_EQ(idx[1], 3);
  auto s = [](double x) { return std::sqrt(std::log1p(std::exp(x))); };
  const double sum = s(-2.0) + s(3.0);
  EXPECT_NEAR(w[0], 1.5 * s(-2.0) / sum, 1e-6);
  EXPECT_NEAR(w[1], 1.5 * s(3.0) / sum, 1e-6);
}

TEST(V4Routing, HashRoutingTakesTheTablesExperts) {
  const RoutingConfig cfg{.n_expert = 4, .n_used = 2, .sqrt_softplus = true, .normalize = true, .scale = 1.0f};
  const float logits[4] = {5.0f, 4.0f, -1.0f, 0.0f};
  const float table_row[2] = {3.0f, 2.0f};  // not the best-scored ones: the table decides
  float scratch[16];
  int32_t idx[2];
  float w[2];
  route_token_fixed(cfg, logits, table_row, scratch, idx, w);
  EXPECT_EQ(idx[0], 2);
  EXPECT_EQ(idx[1], 3);
  EXPECT_NEAR(w[0] + w[1], 1.0f, 1e-6f);
  EXPECT_LT(w[0], w[1]);
}

nlohmann::json common_config() {
  return {{"model_type", "deepseek_v4"}, {"hidden_size", 64}, {"num_hidden_layers", 4}, {"vocab_size", 256},
          {"num_attention_heads", 4}, {"head_dim", 64}, {"q_lora_rank", 32}, {"o_groups", 2}, {"o_lora_rank", 16},
          {"n_routed_experts", 8}, {"num_experts_per_tok", 2}, {"moe_intermediate_size", 32}, {"sliding_window", 8},
          {"swiglu_limit", 10.0}, {"scoring_func", "sqrtsoftplus"}, {"routed_scaling_factor", 1.5}};
}

TEST(V4Config, DeepSeeksDialect) {
  nlohmann::json c = common_config();
  c["qk_rope_head_dim"] = 16;
  c["compress_ratios"] = {0, 4, 128, 4, 0};  // the last entry is the MTP block's
  c["num_hash_layers"] = 2;
  c["rope_scaling"] = {{"type", "yarn"}, {"factor", 16}, {"original_max_position_embeddings", 65536}};
  auto h = deepseek_v4_hparams_from_hf_config(c);
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(h->compress_ratios, (std::vector<int64_t>{0, 4, 128, 4}));
  EXPECT_EQ(h->kind(1), V4LayerKind::kCsa);
  EXPECT_EQ(h->kind(2), V4LayerKind::kHca);
  EXPECT_EQ(h->n_hash_layers, 2);
  EXPECT_EQ(h->d_rope, 16);
  EXPECT_EQ(h->yarn_factor, 16);
  EXPECT_EQ(h->window, 8);
}

TEST(V4Config, TransformersDialect) {
  nlohmann::json c = common_config();
  c["partial_rotary_factor"] = 0.25;
  c["layer_types"] = {"sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention",
                      "sliding_attention"};
  c["compress_rates"] = {{"csa", 4}, {"hca", 128}};
  c["mlp_layer_types"] = {"hash_moe", "moe", "moe", "moe"};
  c["rope_parameters"] = {{"main", {{"rope_theta", 10000.0}}},
                          {"compress", {{"rope_type", "yarn"}, {"rope_theta", 160000.0}, {"factor", 16}}}};
  auto h = deepseek_v4_hparams_from_hf_config(c);
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(h->compress_ratios, (std::vector<int64_t>{0, 4, 128, 0}));
  EXPECT_EQ(h->n_hash_layers, 1);
  EXPECT_EQ(h->d_rope, 16);
  EXPECT_EQ(h->compress_rope_theta, 160000.0);
  EXPECT_EQ(h->yarn_factor, 16);
}

TEST(V4Config, RejectsAnUnknownRatioAndAnotherScoring) {
  nlohmann::json c = common_config();
  c["compress_ratios"] = {0, 6, 0, 0};  // HCA test presets may use a shorter power of two; 6 is none
  EXPECT_FALSE(deepseek_v4_hparams_from_hf_config(c).ok());
  c = common_config();
  c["scoring_func"] = "sigmoid";
  EXPECT_FALSE(deepseek_v4_hparams_from_hf_config(c).ok());
}

}  // namespace
}  // namespace dseek
