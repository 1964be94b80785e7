// `dseek imatrix` and its ImatrixCollector: the sums of squared linear inputs
// equal a direct float64 computation (layer 0's attention input is the RMS-
// normed embedding, computed here from the file), routed experts count exactly
// the rows routed to them, the file round-trips through ImportanceMatrix (what
// `quantize --imatrix` reads) and the command's errors are clear.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "cli/tools/imatrix_collector.h"
#include "cli/tools/imatrix_file.h"
#include "format/gguf.h"
#include "model/model.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

std::vector<float> f32_tensor(const GgufFile& g, const std::string& name) {
  const GgufTensorInfo* t = g.find_tensor(name);
  if (!t || t->dtype != DType::kF32) return {};
  std::vector<float> v(static_cast<size_t>(t->n_elements()));
  std::memcpy(v.data(), g.tensor_data(*t).data(), v.size() * sizeof(float));
  return v;
}

// sum over tokens of (rms_norm(embedding) * attn_norm)^2 per column, in float64: layer 0's attention input.
std::vector<double> layer0_attention_input_sum2(const GgufFile& g, const std::vector<int32_t>& tokens) {
  const std::vector<float> embd = f32_tensor(g, "token_embd.weight"), norm = f32_tensor(g, "blk.0.attn_norm.weight");
  const double eps = *g.get_float("deepseek2.attention.layer_norm_rms_epsilon");
  const size_t E = norm.size();
  std::vector<double> sum(E, 0.0);
  for (int32_t t : tokens) {
    const float* x = embd.data() + static_cast<size_t>(t) * E;
    double ms = 0;
    for (size_t c = 0; c < E; ++c) ms += static_cast<double>(x[c]) * x[c];
    const double inv = 1.0 / std::sqrt(ms / static_cast<double>(E) + eps);
    for (size_t c = 0; c < E; ++c) sum[c] += std::pow(x[c] * inv * norm[c], 2);
  }
  return sum;
}

struct TinyModel {
  test::TempDir dir;
  std::filesystem::path path = dir / "m.gguf";
  TinyModel() {
    EXPECT_EQ(run_dseek("init --arch deepseek-v3 --preset tiny --seed 4 --dtype f32 -o " + q(path)).exit_code, 0);
  }
};

TEST(Imatrix, CollectorEqualsDirectFloat64Sums) {
  TinyModel tm;
  auto files = open_model_files(tm.path.string());
  ASSERT_TRUE(files.ok()) << files.message();
  auto shared = std::make_shared<const ModelFiles>(std::move(*files));
  auto model = load_model(shared);
  ASSERT_TRUE(model.ok()) << model.message();
  const GgufFile& g = *shared->gguf;
  std::vector<int32_t> tokens(24);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 37 + 5) % 500);
  cli::ImatrixCollector collector(g);
  ThreadPool pool(2);
  KvCache cache = (*model)->new_cache(64);
  ForwardOptions fo;
  fo.observer = &collector;
  std::vector<float> logits(tokens.size() * static_cast<size_t>((*model)->n_vocab()));
  ASSERT_TRUE((*model)->forward(tokens, cache, pool, fo, logits.data()).ok());
  const std::vector<double> want = layer0_attention_input_sum2(g, tokens);
  for (const char* name : {"blk.0.attn_q_a.weight", "blk.0.attn_kv_a_mqa.weight"}) {
    const auto& got = collector.sum2(name);
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t c = 0; c < want.size(); ++c) EXPECT_NEAR(got[c], want[c], 1e-5 * want[c]) << name << " column " << c;
    EXPECT_EQ(collector.counts(name), std::vector<int64_t>{24}) << name;
  }
  // Every token reaches the router once and n_expert_used experts: the experts' counts add up to that.
  const int64_t used = *g.get_int("deepseek2.expert_used_count");
  for (const char* exps : {"blk.1.ffn_gate_exps.weight", "blk.1.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight"}) {
    const auto& c = collector.counts(exps);
    EXPECT_EQ(std::accumulate(c.begin(), c.end(), int64_t{0}), 24 * used) << exps;
  }
  EXPECT_EQ(collector.counts("blk.1.ffn_gate_inp.weight"), std::vector<int64_t>{24});
  EXPECT_EQ(collector.unmatched_calls(), 0);
  // A model run without the observer gives the same logits (the seam observes, never changes).
  KvCache plain_cache = (*model)->new_cache(64);
  std::vector<float> plain(logits.size());
  ASSERT_TRUE((*model)->forward(tokens, plain_cache, pool, ForwardOptions{}, plain.data()).ok());
  EXPECT_EQ(0, std::memcmp(plain.data(), logits.data(), plain.size() * sizeof(float)));

  // Round trip: what write() stores, ImportanceMatrix reads back as sum / count per expert slice.
  const auto file = tm.dir / "im.gguf";
  ASSERT_TRUE(collector.write(file.string(), {{"text.txt"}, 1, 24}).ok());
  auto im = cli::ImportanceMatrix::load(file.string());
  ASSERT_TRUE(im.ok()) << im.message();
  const GgufTensorInfo* gate = g.find_tensor("blk.1.ffn_gate_exps.weight");
  const int64_t cols = gate->ne[0], rows = gate->ne[1];
  const auto& s = collector.sum2(gate->name);
  const auto& n = collector.counts(gate->name);
  for (int64_t e = 0; e < gate->ne[2]; ++e) {
    const float* w = im->row_weights(gate->name, gate->ne, e * rows);
    ASSERT_NE(w, nullptr);
    for (int64_t c = 0; c < cols; ++c) {
      const float expect = n[static_cast<size_t>(e)] > 0
                               ? static_cast<float>(s[static_cast<size_t>(e * cols + c)]) / static_cast<float>(n[static_cast<size_t>(e)])
                               : 1.0f;  // an expert no token reached weighs every column alike
      EXPECT_FLOAT_EQ(w[c], expect) << "expert " << e << " column " << c;
    }
  }
}

TEST(Imatrix, CommandWritesLlamaCppImatrixGguf) {
  TinyModel tm;
  const auto text = tm.dir / "t.txt", out = tm.dir / "im.gguf";
  std::string words;
  for (int i = 0; i < 100; ++i) words += "the quick brown fox " + std::to_string(i) + " jumps over the lazy dog. ";
  test::write_file(text, words);
  auto r = run_dseek("imatrix -m " + q(tm.path) + " -f " + q(text) + " -o " + q(out) + " --chunk 32 --chunks 3 -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto g = GgufFile::open(out.string());
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->get_string("general.type"), "imatrix");
  EXPECT_EQ(g->get_int("imatrix.chunk_count"), 3);
  EXPECT_EQ(g->get_int("imatrix.chunk_size"), 32);
  EXPECT_EQ(f32_tensor(*g, "blk.0.attn_q_a.weight.counts"), std::vector<float>{96});  // 3 chunks of 32 (BOS included)
  EXPECT_EQ(g->find_tensor("blk.1.ffn_down_exps.weight.in_sum2")->ne, (std::vector<int64_t>{32, 8}));
  EXPECT_TRUE(cli::ImportanceMatrix::load(out.string()).ok());
  // quantize takes it.
  auto qz = run_dseek("quantize " + q(tm.path) + " " + q(tm.dir / "q.gguf") + " --type iq4_nl --imatrix " + q(out));
  EXPECT_EQ(qz.exit_code, 0) << qz.err;
  // Errors: a text shorter than a chunk, a missing model, a bad --chunk, the output over the model.
  test::write_file(text, "hi");
  auto short_text = run_dseek("imatrix -m " + q(tm.path) + " -f " + q(text) + " -o " + q(out) + " --chunk 64");
  EXPECT_EQ(short_text.exit_code, 2);
  EXPECT_NE(short_text.err.find("fewer than one chunk"), std::string::npos) << short_text.err;
  EXPECT_EQ(run_dseek("imatrix -m /nonexistent.gguf -f " + q(text) + " -o " + q(out)).exit_code, 2);
  auto bad_chunk = run_dseek("imatrix -m " + q(tm.path) + " -f " + q(text) + " -o " + q(out) + " --chunk 1");
  EXPECT_NE(bad_chunk.err.find("--chunk must be"), std::string::npos) << bad_chunk.err;
  EXPECT_EQ(run_dseek("imatrix -m " + q(tm.path) + " -f " + q(text) + " -o " + q(tm.path)).exit_code, 2);
  EXPECT_EQ(run_dseek("imatrix --help").exit_code, 0);
}

}  // namespace
}  // namespace dseek
