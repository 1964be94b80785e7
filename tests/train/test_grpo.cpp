// GRPO's pieces: the arithmetic task's worked solutions and verifiable reward,
// and a short run end to end (rollouts through the inference engine, group
// advantages, the policy update, the KL to the reference, the log and plot).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/model_helpers.h"
#include "train/export.h"
#include "train/recipes/arithmetic.h"
#include "train/recipes/grpo.h"
#include "train/recipes/pretrain.h"

namespace dseek::train {
namespace {

namespace fs = std::filesystem;

TEST(GrpoArithmetic, WorkedSolutionsAreRightAndScoreAsSuch) {
  EXPECT_EQ((ArithmeticProblem{23, 45}.solution()), "<think>3+5=8 2+4+0=6</think>68\n");
  EXPECT_EQ((ArithmeticProblem{58, 7}.solution()), "<think>8+7=15 5+0+1=6</think>65\n");
  EXPECT_EQ((ArithmeticProblem{0, 0}.solution()), "<think>0+0=0</think>0\n");
  for (const auto& p : arithmetic_problems(500, 1000, 3)) {
    const ArithmeticReward r = score_completion(p, p.solution());
    ASSERT_TRUE(r.correct && r.format) << p.prompt() << p.solution();
    // Independent check of the answer inside the text.
    const std::string s = p.solution();
    ASSERT_EQ(std::stoll(s.substr(s.find("</think>") + 8)), p.a + p.b);
  }
  const ArithmeticProblem p{12, 30};
  EXPECT_FALSE(score_completion(p, "<think>x</think>41\n").correct);
  EXPECT_TRUE(score_completion(p, "<think>x</think>41\n").format);
  EXPECT_TRUE(score_completion(p, "<think></think>42\nmore text").correct);
  EXPECT_FALSE(score_completion(p, "42").format);                 // no reasoning block
  EXPECT_FALSE(score_completion(p, "42").correct);                 // the format is part of a correct answer
  EXPECT_FALSE(score_completion(p, "<think>x</think>4 2").format);  // not a number
  EXPECT_FALSE(score_completion(p, "<think>x</think>").format);
  EXPECT_DOUBLE_EQ((ArithmeticReward{true, true}.value(0.25)), 1.25);
}

TEST(GrpoArithmetic, CorpusNoiseIsTheRequestedShare) {
  const std::string text = arithmetic_corpus(2000, 50, 0.3, 1);
  int64_t lines = 0, wrong = 0;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start + 1);
    start = end + 1;
    const auto plus = line.find('+'), eq = line.find('=');
    const ArithmeticProblem p{std::stoll(line.substr(0, plus)), std::stoll(line.substr(plus + 1, eq - plus - 1))};
    const ArithmeticReward r = score_completion(p, line.substr(eq + 1));
    ASSERT_TRUE(r.format) << line;
    wrong += !r.correct;
    ++lines;
  }
  EXPECT_EQ(lines, 2000);
  EXPECT_NEAR(static_cast<double>(wrong) / static_cast<double>(lines), 0.3, 0.04);
}

// The curriculum starts 1-digit, grows linearly, and ends at the full range.
TEST(GrpoArithmetic, CurriculumGrowsFromOneDigitToTheFullRange) {
  GrpoConfig c;
  c.max_operand = 50;
  EXPECT_EQ(curriculum_operand_limit(c, 0), 50);  // no curriculum
  c.curriculum_steps = 100;
  EXPECT_EQ(curriculum_operand_limit(c, 0), 10);
  EXPECT_EQ(curriculum_operand_limit(c, 50), 30);
  EXPECT_EQ(curriculum_operand_limit(c, 99), 49);
  EXPECT_EQ(curriculum_operand_limit(c, 100), 50);
  c.max_operand = 5;
  EXPECT_EQ(curriculum_operand_limit(c, 0), 5);
}

TEST(GrpoRun, ShortRunUpdatesThePolicyAndLogs) {
  const fs::path dir = fs::temp_directory_path() / ("dseek_grpo_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "corpus.txt") << arithmetic_corpus(400, 20, 0.0, 2);
  nlohmann::json cfg = {
      {"model", {{"vocab_size", 320}, {"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 2},
                 {"max_position_embeddings", 128}, {"q_lora_rank", 0}, {"kv_lora_rank", 16}, {"qk_nope_head_dim", 8},
                 {"qk_rope_head_dim", 8}, {"v_head_dim", 8}, {"intermediate_size", 48}, {"moe_intermediate_size", 16},
                 {"n_routed_experts", 4}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2},
                 {"first_k_dense_replace", 1}, {"scoring_func", "sigmoid"}, {"topk_method", "noaux_tc"},
                 {"norm_topk_prob", true}}},
      {"training", {{"seq_len", 32}, {"batch", 8}, {"steps", 200}, {"lr", 1e-2}, {"warmup", 5}, {"eval_every", 100},
                    {"val_fraction", 0.05}, {"special_tokens", true}}}};
  auto pc = parse_pretrain_config(cfg);
  ASSERT_TRUE(pc.ok()) << pc.message();
  const std::string base = (dir / "base.gguf").string();
  ASSERT_TRUE(run_pretrain(*pc, PretrainRun{.data = {(dir / "corpus.txt").string()}, .out = base}).ok());
  GrpoConfig g{.model = base, .out = (dir / "policy.gguf").string(), .steps = 2, .prompts = 2, .group = 4,
               .max_new = 24, .eval_every = 2, .held_out = 5, .max_operand = 20, .lr = 1e-2};
  auto r = run_grpo(g);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->steps, 2);
  std::ifstream in(g.out + ".log.json");
  const auto log = nlohmann::json::parse(in);
  ASSERT_EQ(log["steps"].size(), 2u);
  ASSERT_EQ(log["evals"].size(), 2u);  // before training and after the last step
  EXPECT_TRUE(fs::exists(g.out + ".svg"));
  // The policy moved away from the base (unless every group's rewards tied, which the KL would show as 0 too).
  auto before = import_gguf(base, 64), after = import_gguf(g.out, 64);
  ASSERT_TRUE(before.ok() && after.ok());
  double diff = 0;
  for (size_t i = 0; i < (*before)->params().size(); ++i)
    for (size_t j = 0; j < (*before)->params()[i]->w.size(); ++j)
      diff += std::abs((*before)->params()[i]->w[j] - (*after)->params()[i]->w[j]);
  EXPECT_GT(diff, 0.0) << log.dump();
  EXPECT_FALSE(run_grpo(GrpoConfig{.model = base, .out = g.out, .task = "poetry"}).ok());
  EXPECT_FALSE(run_grpo(GrpoConfig{.model = base, .out = g.out, .group = 1}).ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dseek::train
