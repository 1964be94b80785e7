// What training writes must be what inference runs: a trained model exported
// as GGUF is loaded by the inference engine (model/), whose logits and MTP
// logits must equal the trainer's own forward; checkpoints restore the exact
// state; and a short pretraining run really learns.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "support/model_helpers.h"
#include "support/test_support.h"
#include "train/export.h"
#include "train/recipes/distill.h"
#include "train/recipes/pretrain.h"
#include "tokenizer/tokenizer.h"
#include "train/recipes/tokenizer.h"

namespace dseek::train {
namespace {

namespace fs = std::filesystem;

std::string corpus() {
  std::string t;
  for (int i = 0; i < 200; ++i)
    t += "To be, or not to be, that is the question " + std::to_string(i % 17) + ". The cat sat on the mat.\n";
  return t;
}

// A tokenizer GGUF of `vocab` tokens trained on the corpus, made once per test
// binary and removed when it exits.
const std::string& tokenizer_file(int64_t vocab) {
  struct File {
    std::string path;
    ~File() {
      if (!path.empty()) fs::remove(path);
    }
  };
  static File file;
  if (file.path.empty()) {
    file.path = (fs::temp_directory_path() / ("dseek_train_tok_" + std::to_string(::getpid()) + ".gguf")).string();
    auto r = train_tokenizer_file(corpus(), vocab, "deepseek-v3", file.path);
    EXPECT_TRUE(r.ok()) << r.message();
  }
  return file.path;
}

DeepseekHParams tiny(int64_t n_vocab) {
  DeepseekHParams h;
  h.n_vocab = n_vocab; h.n_embd = 32; h.n_layer = 2; h.n_head = 2;
  h.q_lora_rank = 16; h.kv_lora_rank = 16; h.d_nope = 8; h.d_rope = 8; h.d_v = 8;
  h.n_dense_lead = 1; h.n_ff = 48; h.n_ff_exp = 16; h.n_expert = 4; h.n_expert_shared = 1; h.n_expert_used = 2;
  h.n_group = 2; h.n_group_used = 1; h.gating = Gating::kSigmoid; h.norm_topk = true; h.expert_bias = true;
  h.route_scale = 2.5; h.n_mtp = 1; h.n_ctx = 64;
  return h;
}

TEST(TrainExport, InferenceEngineRunsTheTrainedModelIdentically) {
  const std::string& tok = tokenizer_file(400);
  auto probe = Tokenizer::load(tok);
  ASSERT_TRUE(probe.ok()) << probe.message();
  const int64_t V = static_cast<int64_t>(probe->vocab_size());
  TrainModel<float> m(tiny(V), 16, 11);
  // Non-zero balancing biases: they change selection in both engines the same way.
  for (auto* b : m.expert_biases())
    for (size_t i = 0; i < b->size(); ++i) (*b)[i] = 0.03f * static_cast<float>(i);
  const std::string out = (fs::temp_directory_path() / ("dseek_train_export_" + std::to_string(::getpid()) + ".gguf")).string();
  ASSERT_TRUE(export_gguf(m, ExportOptions{.tokenizer_path = tok}, out).ok());
  auto model = test::load_model_or_fail(out);
  ASSERT_TRUE(model);
  ASSERT_EQ(model->n_vocab(), V);
  {  // import is export's exact inverse (f32): every parameter and bias comes back
    auto back = import_gguf(out, 16);
    ASSERT_TRUE(back.ok()) << back.message();
    for (size_t i = 0; i < m.params().size(); ++i)
      ASSERT_EQ((*back)->params()[i]->w, m.params()[i]->w) << m.params()[i]->name;
    ASSERT_EQ(*(*back)->expert_biases()[0], *m.expert_biases()[0]);
  }
  ThreadPool pool(2);
  const std::vector<int32_t> tokens = {5, 77, 120, 3, 250, 9, 18, 301, 44, 2, 7, 99};
  std::vector<float> want, want_mtp;
  m.logits(pool, tokens, 1, want);
  m.mtp_logits(pool, tokens, 1, want_mtp);
  for (AttentionMode mode : {AttentionMode::kNaive, AttentionMode::kAbsorbed}) {
    KvCache cache = model->new_cache(64);
    std::vector<float> got(tokens.size() * static_cast<size_t>(V));
    ASSERT_TRUE(model->forward(tokens, cache, pool, ForwardOptions{.mode = mode, .all_logits = true}, got.data()).ok());
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      max_err = std::max(max_err, std::abs(static_cast<double>(got[i]) - want[i]));
      max_ref = std::max(max_ref, std::abs(static_cast<double>(want[i])));
    }
    EXPECT_GT(max_ref, 0.1);
    EXPECT_LT(max_err, 2e-4 * std::max(1.0, max_ref)) << "mode " << static_cast<int>(mode);
  }
  std::vector<float> got_mtp((tokens.size() - 1) * static_cast<size_t>(V));
  ASSERT_TRUE(model->forward_mtp(tokens, pool, got_mtp.data()).ok());
  ASSERT_EQ(got_mtp.size(), want_mtp.size());
  for (size_t i = 0; i < got_mtp.size(); ++i) ASSERT_NEAR(got_mtp[i], want_mtp[i], 2e-4 * std::max(1.0f, std::abs(want_mtp[i]))) << i;
  fs::remove(out);
}

// A bf16 step computes with rounded matrices but leaves the f32 masters as they were
// (the optimiser updates full-precision weights), and its gradients approximate f32's.
TEST(TrainExport, MixedPrecisionKeepsF32Masters) {
  const DeepseekHParams h = tiny(300);
  ThreadPool pool(2);
  TrainModel<float> m(h, 16, 5);
  const std::vector<int32_t> tokens = {5, 77, 120, 3, 250, 9, 18, 201, 44, 2, 7, 99, 1, 2, 3, 4};
  std::vector<std::vector<float>> before;
  for (auto* p : m.params()) before.push_back(p->w);
  m.zero_grad();
  const StepResult r32 = m.step(pool, tokens, 2, LossOptions{});
  std::vector<float> g32;
  for (auto* p : m.params()) g32.insert(g32.end(), p->g.begin(), p->g.end());
  m.zero_grad();
  const StepResult r16 = m.step(pool, tokens, 2, LossOptions{.bf16 = true});
  std::vector<float> g16;
  for (auto* p : m.params()) g16.insert(g16.end(), p->g.begin(), p->g.end());
  for (size_t i = 0; i < m.params().size(); ++i) ASSERT_EQ(m.params()[i]->w, before[i]) << m.params()[i]->name;
  EXPECT_NE(r16.loss, r32.loss);
  EXPECT_NEAR(r16.loss, r32.loss, 0.02 * r32.loss);
  double dot = 0, n32 = 0, n16 = 0;
  for (size_t i = 0; i < g32.size(); ++i) dot += g32[i] * g16[i], n32 += g32[i] * g32[i], n16 += g16[i] * g16[i];
  EXPECT_GT(dot / std::sqrt(n32 * n16), 0.99) << "bf16 gradients point the same way";
}

TEST(TrainExport, CheckpointRestoresTheExactState) {
  const DeepseekHParams h = tiny(300);
  ThreadPool pool(1);
  const std::vector<int32_t> tokens = {5, 77, 120, 3, 250, 9, 18, 201, 44, 2, 7, 99, 1, 2, 3, 4};
  auto train_steps = [&](TrainModel<float>& m, AdamW& opt, int n) {
    for (int i = 0; i < n; ++i) {
      m.zero_grad();
      m.step(pool, tokens, 2, LossOptions{});
      opt.step(m.params());
      (*m.expert_biases()[0])[static_cast<size_t>(i % 4)] += 0.01f;
    }
  };
  TrainModel<float> a(h, 16, 3);
  AdamW oa(AdamWConfig{.warmup = 2, .total_steps = 10}, a.params());
  train_steps(a, oa, 3);
  const std::string ck = (fs::temp_directory_path() / ("dseek_train_ckpt_" + std::to_string(::getpid()))).string();
  ASSERT_TRUE(save_checkpoint(a, oa, "{\"x\":1}", ck).ok());
  TrainModel<float> b(h, 16, 99);  // different initialisation, overwritten by the checkpoint
  AdamW ob(AdamWConfig{.warmup = 2, .total_steps = 10}, b.params());
  EXPECT_FALSE(load_checkpoint(b, ob, "{\"x\":2}", ck).ok()) << "a different config must be refused";
  ASSERT_TRUE(load_checkpoint(b, ob, "{\"x\":1}", ck).ok());
  EXPECT_EQ(ob.steps_done(), 3);
  train_steps(a, oa, 2);
  train_steps(b, ob, 2);
  for (size_t i = 0; i < a.params().size(); ++i) ASSERT_EQ(a.params()[i]->w, b.params()[i]->w) << a.params()[i]->name;
  fs::remove(ck);
}

TEST(TrainPretrain, ShortRunLearnsAndWritesEverything) {
  const fs::path dir = fs::temp_directory_path() / ("dseek_pretrain_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "data.txt") << corpus();
  nlohmann::json cfg = {
      {"model", {{"vocab_size", 400}, {"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 2},
                 {"max_position_embeddings", 64}, {"q_lora_rank", 16}, {"kv_lora_rank", 16}, {"qk_nope_head_dim", 8},
                 {"qk_rope_head_dim", 8}, {"v_head_dim", 8}, {"intermediate_size", 48}, {"moe_intermediate_size", 16},
                 {"n_routed_experts", 4}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2}, {"n_group", 2},
                 {"topk_group", 1}, {"first_k_dense_replace", 1}, {"num_nextn_predict_layers", 1},
                 {"scoring_func", "sigmoid"}, {"norm_topk_prob", true}, {"topk_method", "noaux_tc"}}},
      {"training", {{"seq_len", 32}, {"batch", 4}, {"steps", 60}, {"lr", 1e-2}, {"min_lr", 1e-3}, {"warmup", 5},
                    {"eval_every", 30}, {"eval_windows", 8}, {"val_fraction", 0.1}}}};
  auto c = parse_pretrain_config(cfg);
  ASSERT_TRUE(c.ok()) << c.message();
  const std::string out = (dir / "m.gguf").string();
  auto r = run_pretrain(*c, PretrainRun{.data = {(dir / "data.txt").string()}, .out = out, .threads = 2});
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->steps, 60);
  // The corpus is highly repetitive: 60 steps take cross-entropy far below ln(V) = 6.0.
  EXPECT_LT(r->final_train_ce, 2.5);
  EXPECT_LT(r->final_val_ce, 3.0);
  for (const char* ext : {"", ".log.json", ".svg", ".ckpt", ".tokenizer.gguf"})
    EXPECT_TRUE(fs::exists(out + ext)) << out + ext;
  auto model = test::load_model_or_fail(out);
  EXPECT_TRUE(model);
  // Retraining from the same config reproduces the run exactly, on any thread count
  // (kernels split work across outputs, never across a reduction).
  cfg["training"]["steps"] = 15;
  auto c15 = parse_pretrain_config(cfg);
  ASSERT_TRUE(c15.ok());
  auto one = run_pretrain(*c15, PretrainRun{.data = {(dir / "data.txt").string()}, .tokenizer = out + ".tokenizer.gguf",
                                            .out = (dir / "a.gguf").string(), .threads = 1});
  auto two = run_pretrain(*c15, PretrainRun{.data = {(dir / "data.txt").string()}, .tokenizer = out + ".tokenizer.gguf",
                                            .out = (dir / "b.gguf").string(), .threads = 2});
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->final_train_ce, two->final_train_ce);
  EXPECT_EQ(one->final_val_ce, two->final_val_ce);
  // Mixed precision (bfloat16 compute, f32 masters) trains to nearly the same loss.
  cfg["training"]["bf16"] = true;
  auto cb = parse_pretrain_config(cfg);
  ASSERT_TRUE(cb.ok());
  EXPECT_TRUE(cb->loss.bf16);
  auto mixed = run_pretrain(*cb, PretrainRun{.data = {(dir / "data.txt").string()}, .tokenizer = out + ".tokenizer.gguf",
                                             .out = (dir / "c.gguf").string(), .threads = 2});
  ASSERT_TRUE(mixed.ok()) << mixed.message();
  EXPECT_NE(mixed->final_train_ce, one->final_train_ce) << "bf16 compute must actually round";
  EXPECT_NEAR(mixed->final_train_ce, one->final_train_ce, 0.05 * one->final_train_ce);
  // Absurd settings are refused with a reason.
  cfg["training"]["lr"] = -1;
  EXPECT_FALSE(parse_pretrain_config(cfg).ok());
  cfg["training"]["lr"] = 1e-3;
  cfg["training"]["seq_len"] = 100000;
  EXPECT_FALSE(parse_pretrain_config(cfg).ok());
  fs::remove_all(dir);
}

// Distillation: a student half the teacher's width moves towards the teacher's
// distribution (validation KL falls), on the teacher's vocabulary, and the
// teacher's samples are part of its data.
TEST(TrainDistill, StudentApproachesTheTeacher) {
  const fs::path dir = fs::temp_directory_path() / ("dseek_distill_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "data.txt") << corpus();
  nlohmann::json cfg = {
      {"model", {{"vocab_size", 400}, {"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 2},
                 {"max_position_embeddings", 64}, {"q_lora_rank", 0}, {"kv_lora_rank", 16}, {"qk_nope_head_dim", 8},
                 {"qk_rope_head_dim", 8}, {"v_head_dim", 8}, {"intermediate_size", 48}, {"moe_intermediate_size", 16},
                 {"n_routed_experts", 4}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2},
                 {"first_k_dense_replace", 1}}},
      {"training", {{"seq_len", 32}, {"batch", 4}, {"steps", 60}, {"lr", 1e-2}, {"min_lr", 1e-3}, {"warmup", 5},
                    {"eval_every", 10}, {"eval_windows", 8}, {"val_fraction", 0.1}}}};
  auto tc = parse_pretrain_config(cfg);
  ASSERT_TRUE(tc.ok()) << tc.message();
  const std::string teacher_path = (dir / "teacher.gguf").string();
  ASSERT_TRUE(run_pretrain(*tc, PretrainRun{.data = {(dir / "data.txt").string()}, .out = teacher_path}).ok());
  auto teacher = test::load_model_or_fail(teacher_path);
  ASSERT_TRUE(teacher);
  cfg["model"]["hidden_size"] = 16;
  cfg["training"]["steps"] = 40;
  cfg["distill"] = {{"kd_weight", 1.0}, {"ce_weight", 0.0}, {"temperature", 1.0}, {"samples", 3}, {"sample_tokens", 16}};
  auto sc = parse_pretrain_config(cfg);
  ASSERT_TRUE(sc.ok()) << sc.message();
  const std::string out = (dir / "student.gguf").string();
  auto r = run_distill(*sc, PretrainRun{.data = {(dir / "data.txt").string()}, .out = out}, teacher, teacher_path);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(fs::exists(out + ".samples.txt"));
  std::ifstream log_in(out + ".log.json");
  const nlohmann::json log = nlohmann::json::parse(log_in);
  const double first = log["evals"].front()["val_kd"], last = log["evals"].back()["val_kd"];
  EXPECT_GT(first, 0.0);
  EXPECT_LT(last, 0.8 * first) << "validation KL to the teacher should fall";
  EXPECT_TRUE(test::load_model_or_fail(out));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dseek::train
