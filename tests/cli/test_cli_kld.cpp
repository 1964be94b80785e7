// `dseek kld`: a model against itself scores KL 0 and full agreement; a
// quantised copy of the same random model scores a small positive KL, high
// agreement and a close perplexity; bad input is a clear error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

TEST(CliKld, SelfIsZeroAndQuantisedIsClose) {
  test::TempDir dir;
  const std::string f32 = (dir.path() / "f32.gguf").string(), q4 = (dir.path() / "q4.gguf").string();
  const std::string text = (dir.path() / "text.txt").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 --preset tiny --seed 4 --dtype f32 -o '" + f32 + "'").exit_code, 0);
  ASSERT_EQ(run_dseek("quantize '" + f32 + "' '" + q4 + "' --type q4_k").exit_code, 0);
  std::string words;
  for (int i = 0; i < 200; ++i) words += "the quick brown fox " + std::to_string(i) + " jumps over the lazy dog. ";
  test::write_file(text, words);
  auto self = run_dseek("kld -m '" + f32 + "' --base '" + f32 + "' -f '" + text + "' -c 64 --chunks 3 -t 2 --json");
  ASSERT_EQ(self.exit_code, 0) << self.err;
  const auto s = nlohmann::json::parse(self.out);
  EXPECT_EQ(s["positions"], 3 * 63);
  EXPECT_NEAR(s["kld_mean"].get<double>(), 0.0, 1e-9);
  EXPECT_EQ(s["top1_agreement"], 1.0);
  EXPECT_DOUBLE_EQ(s["ppl_base"].get<double>(), s["ppl_model"].get<double>());
  auto q = run_dseek("kld -m '" + q4 + "' --base '" + f32 + "' -f '" + text + "' -c 64 --chunks 3 -t 2 --json");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const auto r = nlohmann::json::parse(q.out);
  EXPECT_GT(r["kld_mean"].get<double>(), 0.0);
  EXPECT_LT(r["kld_mean"].get<double>(), 0.5);
  EXPECT_GT(r["top1_agreement"].get<double>(), 0.5);
  EXPECT_NEAR(r["ppl_model"].get<double>() / r["ppl_base"].get<double>(), 1.0, 0.25);
  // Human output names the figures.
  auto h = run_dseek("kld -m '" + q4 + "' --base '" + f32 + "' -f '" + text + "' -c 64 --chunks 1");
  EXPECT_NE(h.out.find("top-1 agreement"), std::string::npos);
  // Errors: a text shorter than a chunk, a missing file.
  test::write_file(text, "hi");
  auto short_text = run_dseek("kld -m '" + q4 + "' --base '" + f32 + "' -f '" + text + "' -c 64");
  EXPECT_EQ(short_text.exit_code, 2);
  EXPECT_NE(short_text.err.find("fewer than one chunk"), std::string::npos);
  EXPECT_EQ(run_dseek("kld -m '" + q4 + "' --base /nonexistent.gguf -f '" + text + "'").exit_code, 2);
}

}  // namespace
}  // namespace dseek
