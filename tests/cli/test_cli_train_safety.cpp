// Data safety of `dseek train`: a run stopped and resumed equals the
// uninterrupted run bit for bit (same model file, same log entries, same
// plot); a damaged checkpoint is refused; an output that cannot be written or
// that is one of the inputs is an error before anything is lost.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace dseek {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_dseek;

// A tiny MLA + MoE config and a repetitive corpus: 8 steps run in a fraction of a second.
struct TinyRun {
  test::TempDir dir;
  TinyRun() {
    const json cfg = {
        {"model", {{"vocab_size", 300}, {"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 2},
                   {"max_position_embeddings", 64}, {"q_lora_rank", 16}, {"kv_lora_rank", 16}, {"qk_nope_head_dim", 8},
                   {"qk_rope_head_dim", 8}, {"v_head_dim", 8}, {"intermediate_size", 48}, {"moe_intermediate_size", 16},
                   {"n_routed_experts", 4}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2}, {"n_group", 2},
                   {"topk_group", 1}, {"first_k_dense_replace", 1}, {"num_nextn_predict_layers", 1},
                   {"scoring_func", "sigmoid"}, {"norm_topk_prob", true}, {"topk_method", "noaux_tc"}}},
        {"training", {{"seq_len", 16}, {"batch", 2}, {"steps", 8}, {"lr", 1e-2}, {"warmup", 2}, {"eval_every", 4},
                      {"eval_windows", 2}, {"val_fraction", 0.1}}}};
    test::write_file(dir / "c.json", cfg.dump());
    std::string text;
    const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "see", "red", "sun"};
    for (int i = 0; i < 3000; ++i) text += std::string(words[(i * 7 + i / 13) % 13]) + (i % 12 == 11 ? "\n" : " ");
    test::write_file(dir / "d.txt", text);
  }
  test::CommandResult train(const std::string& out, const std::string& extra = "") const {
    return run_dseek("train pretrain -t 1 --config '" + (dir / "c.json").string() + "' --data '" +
                     (dir / "d.txt").string() + "' -o '" + (dir / out).string() + "' " + extra);
  }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

// The log's entries without the wall-clock figures.
json without_timing(json entries) {
  for (auto& e : entries) e.erase("tokens_per_s");
  return entries;
}

TEST(CliTrainSafety, ResumedRunEqualsTheUninterruptedRun) {
  TinyRun t;
  auto straight = t.train("a.gguf");
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  auto half = t.train("b.gguf", "--max-steps 4");
  ASSERT_EQ(half.exit_code, 0) << half.err;
  auto rest = t.train("b.gguf", "--resume");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.err.find("resumed"), std::string::npos) << rest.err;
  EXPECT_TRUE(test::read_file(t.path("a.gguf")) == test::read_file(t.path("b.gguf"))) << "the model files differ";
  const json la = json::parse(test::read_file(t.path("a.gguf.log.json")));
  const json lb = json::parse(test::read_file(t.path("b.gguf.log.json")));
  ASSERT_EQ(lb["steps"].size(), 8u) << "the resumed log continues the first half's";
  EXPECT_EQ(without_timing(la["steps"]), without_timing(lb["steps"]));
  EXPECT_EQ(la["evals"], lb["evals"]);
  EXPECT_TRUE(test::read_file(t.path("a.gguf.svg")) == test::read_file(t.path("b.gguf.svg"))) << "the plots differ";
}

TEST(CliTrainSafety, DamagedCheckpointIsRefused) {
  TinyRun t;
  ASSERT_EQ(t.train("m.gguf", "--max-steps 2").exit_code, 0);
  const std::string ckpt = t.path("m.gguf.ckpt");
  std::string bytes = test::read_file(ckpt);
  ASSERT_GT(bytes.size(), 1000u);
  bytes[bytes.size() - 100] ^= 0x01;  // one bit in the last tensor's data
  test::write_file(ckpt, bytes);
  auto r = t.train("m.gguf", "--resume");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("wrote"), std::string::npos) << r.out;
}

TEST(CliTrainSafety, UnwritableLogIsAnError) {
  TinyRun t;
  fs::create_directory(t.path("m.gguf.log.json"));  // the log's path cannot become a file
  auto r = t.train("m.gguf", "--max-steps 1");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("m.gguf.log.json"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("wrote"), std::string::npos) << r.out;
}

TEST(CliTrainSafety, OutputsNeverReplaceInputs) {
  TinyRun t;
  const std::string data = test::read_file(t.path("d.txt"));
  fs::create_symlink("d.txt", t.path("link.txt"));
  auto r = t.train("link.txt", "--max-steps 1");  // -o names the data through a symlink
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("same file"), std::string::npos) << r.err;
  EXPECT_TRUE(test::read_file(t.path("d.txt")) == data) << "the data changed";
  auto tok = run_dseek("train tokenizer --vocab 300 --data '" + t.path("d.txt") + "' -o '" + t.path("./d.txt") + "'");
  EXPECT_EQ(tok.exit_code, 2) << tok.err;
  EXPECT_TRUE(test::read_file(t.path("d.txt")) == data) << "the data changed";
}

}  // namespace
}  // namespace dseek
