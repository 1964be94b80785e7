// Checkpoints keep the recipe's state (sampler position, history) and a
// checksum: a damaged file is refused before anything is restored. A training
// log that cannot be written at the end of a run is an error, not a success.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"
#include "train/checkpoint.h"
#include "train/recipes/pretrain.h"

namespace dseek::train {
namespace {

namespace fs = std::filesystem;

DeepseekHParams tiny() {
  DeepseekHParams h;
  h.n_vocab = 40; h.n_embd = 8; h.n_layer = 2; h.n_head = 2;
  h.q_lora_rank = 6; h.kv_lora_rank = 6; h.d_nope = 4; h.d_rope = 4; h.d_v = 4;
  h.n_dense_lead = 1; h.n_ff = 10; h.n_ff_exp = 5; h.n_expert = 4; h.n_expert_shared = 1; h.n_expert_used = 2;
  h.n_group = 2; h.n_group_used = 1; h.gating = Gating::kSigmoid; h.norm_topk = true; h.expert_bias = true;
  h.n_mtp = 0; h.n_ctx = 16;
  return h;
}

TEST(TrainCheckpoint, KeepsRecipeStateAndRefusesDamage) {
  test::TempDir dir;
  const std::string ck = (dir / "c.ckpt").string();
  TrainModel<float> a(tiny(), 8, 3);
  AdamW oa(AdamWConfig{.total_steps = 10}, a.params());
  oa.set_steps_done(5);
  ASSERT_TRUE(save_checkpoint(a, oa, "{}", ck, RecipeState{.sampler = 0xfedcba9876543210ull, .history = "[1,2]"}).ok());
  TrainModel<float> b(tiny(), 8, 4);
  AdamW ob(AdamWConfig{.total_steps = 10}, b.params());
  RecipeState s;
  ASSERT_TRUE(load_checkpoint(b, ob, "{}", ck, &s).ok());
  EXPECT_EQ(s.sampler, 0xfedcba9876543210ull);
  EXPECT_EQ(s.history, "[1,2]");
  EXPECT_EQ(ob.steps_done(), 5);
  EXPECT_EQ(a.params()[0]->w, b.params()[0]->w);
  // Any flipped byte in the tensor data or in a stored value is refused, and nothing is restored.
  const std::string good = test::read_file(ck);
  const std::string before = std::string(reinterpret_cast<const char*>(b.params()[0]->w.data()), 16);
  for (const size_t at : {good.size() - 1, good.size() / 2, good.find("[1,2]") + 1}) {
    std::string bad = good;
    bad[at] ^= 0x20;
    test::write_file(ck, bad);
    TrainModel<float> c(tiny(), 8, 5);
    AdamW oc(AdamWConfig{.total_steps = 10}, c.params());
    const auto w0 = c.params()[0]->w;
    const Status st = load_checkpoint(c, oc, "{}", ck, &s);
    EXPECT_FALSE(st.ok()) << "flipped byte at " << at;
    EXPECT_NE(st.message().find("damaged"), std::string::npos) << st.message();
    EXPECT_EQ(c.params()[0]->w, w0) << "a refused checkpoint restores nothing";
  }
}

TEST(TrainCheckpoint, UnwritableLogFailsTheRun) {
  test::TempDir dir;
  std::string text;
  for (int i = 0; i < 400; ++i) text += "the cat sat on the mat " + std::to_string(i % 7) + "\n";
  test::write_file(dir / "d.txt", text);
  nlohmann::json cfg = {
      {"model", {{"vocab_size", 300}, {"hidden_size", 16}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                 {"max_position_embeddings", 32}, {"q_lora_rank", 8}, {"kv_lora_rank", 8}, {"qk_nope_head_dim", 4},
                 {"qk_rope_head_dim", 4}, {"v_head_dim", 4}, {"intermediate_size", 16}, {"first_k_dense_replace", 1},
                 {"num_nextn_predict_layers", 0}}},
      {"training", {{"seq_len", 8}, {"batch", 2}, {"steps", 2}, {"eval_every", 1}, {"eval_windows", 1}}}};
  auto c = parse_pretrain_config(cfg);
  ASSERT_TRUE(c.ok()) << c.message();
  const std::string out = (dir / "m.gguf").string();
  fs::create_directory(out + ".log.json");  // the run itself does not check (the CLI does, earlier)
  auto r = run_pretrain(*c, PretrainRun{.data = {(dir / "d.txt").string()}, .out = out, .threads = 1});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("training log"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace dseek::train
