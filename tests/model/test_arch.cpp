// Architecture specs: hyper-parameters from real configs, parameter counts
// against DeepSeek's published figures, presets, and bad configs.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "format/json_file.h"
#include "model/arch.h"
#include "support/test_support.h"

namespace dseek {
namespace {

ParamCounts spec_counts(const Architecture& a) {
  std::vector<std::pair<std::string, int64_t>> t;
  for (const auto& s : a.tensor_specs()) {
    int64_t n = 1;
    for (auto d : s.ne) n *= d;
    t.emplace_back(s.gguf_name, n);
  }
  return count_params(a, t);
}

TEST(Arch, DeepSeekV3ConfigMatchesPublishedParameterCounts) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata not found: real V3 config not checked";
  auto cfg = read_json_file((dir / "configs/deepseek-v3-hf/config.json").string());
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  auto a = architecture_from_hf_config(*cfg);
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ((*a)->name(), "deepseek-v3");
  const ParamCounts c = spec_counts(**a);
  // DeepSeek-V3 report: 671B total in the main model, 37B activated per token;
  // the MTP module adds 14B including its own copies of embedding and head
  // (2 x 129280 x 7168 = 1.85B), which we share instead of storing.
  EXPECT_NEAR(static_cast<double>(c.total - c.mtp) / 1e9, 671.0, 0.5);
  EXPECT_NEAR(static_cast<double>(c.active) / 1e9, 37.0, 0.5);
  EXPECT_NEAR(static_cast<double>(c.mtp + 2 * 129280LL * 7168) / 1e9, 14.0, 0.6);
}

TEST(Arch, V2LitePresetHasPublishedShapesAndCounts) {
  auto a = architecture_preset("deepseek-v2", "v2-lite", 102400);
  ASSERT_TRUE(a.ok()) << a.message();
  const ParamCounts c = spec_counts(**a);
  EXPECT_NEAR(static_cast<double>(c.total) / 1e9, 15.7, 0.05);   // "15.7B parameters"
  EXPECT_NEAR(static_cast<double>(c.active) / 1e9, 2.4, 0.06);   // "2.4B activated"
  EXPECT_EQ(c.mtp, 0);
  int layers = 0;
  bool has_q_proj = false, has_q_a = false;
  for (const auto& s : (*a)->tensor_specs()) {
    if (s.gguf_name.find(".attn_norm.") != std::string::npos) ++layers;
    has_q_proj |= s.gguf_name == "blk.0.attn_q.weight";
    has_q_a |= s.gguf_name.find("attn_q_a") != std::string::npos;
  }
  EXPECT_EQ(layers, 27);
  EXPECT_TRUE(has_q_proj);  // q_lora_rank 0: no query compression
  EXPECT_FALSE(has_q_a);
}

TEST(Arch, V2LiteConfigFromDerivedManifestAgreesWithPreset) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata not found";
  // Every HF tensor name + shape in the derived V2-Lite manifest that our spec
  // names must have the same shape (PyTorch [out, in] = reversed GGUF ne).
  const std::string tsv = test::read_file(dir / "configs/derived/deepseek-v2-lite-16B.hf-tensors.tsv");
  auto a = architecture_preset("deepseek-v2", "v2-lite", 102400);
  ASSERT_TRUE(a.ok());
  std::map<std::string, std::vector<int64_t>> ours;
  for (const auto& s : (*a)->tensor_specs())
    if (!s.hf_name.empty()) ours[s.hf_name] = std::vector<int64_t>(s.ne.rbegin(), s.ne.rend());
  int checked = 0;
  std::istringstream in(tsv);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::string pattern, shape_s, dtype, count, range;
    std::getline(f, pattern, '\t');
    std::getline(f, shape_s, '\t');
    std::getline(f, dtype, '\t');
    std::getline(f, count, '\t');
    std::getline(f, range, '\t');
    if (pattern.find("{e}") != std::string::npos) continue;  // per-expert HF tensors are merged in GGUF
    const auto shape = nlohmann::json::parse(shape_s).get<std::vector<int64_t>>();
    int lo = 0, hi = 0;
    if (std::sscanf(range.c_str(), "i=%d..%d", &lo, &hi) != 2) lo = hi = -1;
    for (int i = lo; i <= hi; ++i) {
      std::string name = pattern;
      if (auto p = name.find("{i}"); p != std::string::npos) name.replace(p, 3, std::to_string(i));
      auto it = ours.find(name);
      if (it == ours.end()) continue;
      EXPECT_EQ(it->second, shape) << name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 200);
  std::printf("V2-Lite manifest: %d tensor shapes agree\n", checked);
}

TEST(Arch, BadConfigsAreErrors) {
  auto a = architecture_from_hf_config(nlohmann::json::parse(R"({"model_type":"gpt9"})"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.message().find("gpt9"), std::string::npos);
  auto b = architecture_from_hf_config(nlohmann::json::parse(R"({"model_type":"deepseek_v3","vocab_size":100,"hidden_size":"big"})"));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.message().find("hidden_size"), std::string::npos);
  auto c = architecture_from_hf_config(nlohmann::json::parse(
      R"({"model_type":"llama","vocab_size":10,"hidden_size":64,"num_hidden_layers":1,"num_attention_heads":3,)"
      R"("num_key_value_heads":2,"intermediate_size":8})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("multiple"), std::string::npos);
  EXPECT_FALSE(architecture_preset("deepseek-v3", "v2-lite", 1000).ok());
  EXPECT_FALSE(architecture_preset("mamba", "tiny", 1000).ok());
}

}  // namespace
}  // namespace dseek
