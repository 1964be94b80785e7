// Self-tests of the float64 reference (tests/reference): checks that could fail
// without comparing against src/model — greedy decoding of the real trained
// stories260K model, structural properties (causality, finiteness, sensitivity)
// on random tiny models from `dseek init`, hand-made routing cases, YaRN numbers
// from DeepSeek-V3's config, and the two MLA weight layouts agreeing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "format/gguf_writer.h"
#include "kernels/kernels.h"
#include "reference/ref_math.h"
#include "reference/reference_model.h"
#include "support/test_support.h"

namespace dseek::reference {
namespace {

// Random tiny models, written once for the whole binary.
class TinyModels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::TempDir>();
    for (const char* arch : {"deepseek-v3", "deepseek-v2", "qwen2", "llama"}) {
      const std::string path = (*dir_ / (std::string(arch) + ".gguf")).string();
      auto r = test::run_dseek(std::string("init --arch ") + arch + " --preset tiny -o '" + path + "'");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      paths_[arch] = path;
    }
  }
  static void TearDownTestSuite() { dir_.reset(); }
  static std::string path(const std::string& arch) { return paths_.at(arch); }
  static std::filesystem::path dir() { return dir_->path(); }

 private:
  static inline std::unique_ptr<test::TempDir> dir_;
  static inline std::map<std::string, std::string> paths_;
};

constexpr int64_t kTinyVocab = 512;  // dseek init's default vocabulary for --preset tiny

std::vector<double> run(const std::string& path, const std::vector<int32_t>& toks, const RefOptions& opt = {}) {
  auto r = forward_logits(path, toks, opt);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? r.value() : std::vector<double>{};
}

std::vector<double> row(const std::vector<double>& logits, size_t t, int64_t V) {
  return {logits.begin() + static_cast<int64_t>(t) * V, logits.begin() + static_cast<int64_t>(t + 1) * V};
}

std::vector<int32_t> read_ids(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  std::vector<int32_t> ids;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream v(line.substr(key.size() + 1));
    for (int32_t x; v >> x;) ids.push_back(x);
  }
  return ids;
}

size_t argmax_at(const std::vector<double>& logits, size_t t, int64_t V) {
  const std::vector<double> r = row(logits, t, V);
  return static_cast<size_t>(std::max_element(r.begin(), r.end()) - r.begin());
}

// stories260K is a real trained llama: greedy decoding must reproduce llama2.c run.c's ids
// exactly. The first kGreedySteps are decoded for real (full forward recomputed each step);
// the rest by one forward over the expected sequence, whose argmax at position t must be
// id t+1 — the same thing for a causal model (causality is tested below), 60x cheaper under ASan.
TEST(ReferenceLlama, Stories260KGreedyMatchesLlama2c) {
  const auto data = test::testdata_dir();
  const auto model = data / "llama2c" / "stories260K.gguf";
  const auto ids_file = data / "llama2c" / "reference" / "t0_n64_once_upon_a_time.ids";
  if (data.empty() || !std::filesystem::exists(model) || !std::filesystem::exists(ids_file))
    GTEST_SKIP() << "stories260K test data not found under " << data;
  const std::string text = test::read_file(ids_file);
  std::vector<int32_t> seq = read_ids(text, "prompt_ids");
  const std::vector<int32_t> expected = read_ids(text, "sequence_ids");
  ASSERT_EQ(seq.size(), 5u);
  // run.c -n 64 prints 65 ids here: the prompt's first id plus 64 steps of positions.
  ASSERT_GT(expected.size(), seq.size());
  const int64_t V = 512;
  constexpr size_t kGreedySteps = 8;
  for (size_t step = 0; step < kGreedySteps; ++step) {
    const std::vector<double> logits = run(model.string(), seq);
    ASSERT_EQ(logits.size(), seq.size() * V);
    seq.push_back(static_cast<int32_t>(argmax_at(logits, seq.size() - 1, V)));
  }
  EXPECT_TRUE(std::equal(seq.begin(), seq.end(), expected.begin())) << "greedy steps diverge from llama2.c";
  const std::vector<double> logits = run(model.string(), expected);
  ASSERT_EQ(logits.size(), expected.size() * V);
  size_t match = seq.size() - kGreedySteps;  // the prompt
  while (match < expected.size() && static_cast<int32_t>(argmax_at(logits, match - 1, V)) == expected[match]) ++match;
  EXPECT_EQ(match, expected.size()) << "first mismatch at index " << match << " of " << expected.size();
}

void expect_finite_and_sensitive(const std::string& path) {
  const std::vector<int32_t> a = {1, 17, 300, 42, 5, 99}, b = {1, 17, 301, 42, 5, 99};
  const auto la = run(path, a), lb = run(path, b);
  ASSERT_EQ(la.size(), a.size() * kTinyVocab);
  for (double x : la) ASSERT_TRUE(std::isfinite(x));
  double spread = 0.0;  // logits within a row are not all equal
  for (int64_t v = 1; v < kTinyVocab; ++v) spread = std::max(spread, std::fabs(la[v] - la[0]));
  EXPECT_GT(spread, 1e-6);
  // Causality: positions before the changed token are bit-identical; from it on they differ.
  for (size_t t = 0; t < a.size(); ++t) {
    if (t < 2) {
      EXPECT_EQ(row(la, t, kTinyVocab), row(lb, t, kTinyVocab)) << "position " << t << " saw a later token";
    } else {
      EXPECT_NE(row(la, t, kTinyVocab), row(lb, t, kTinyVocab)) << "position " << t << " ignores token 2";
    }
  }
}

TEST_F(TinyModels, DeepseekV3FiniteCausalSensitive) { expect_finite_and_sensitive(path("deepseek-v3")); }
TEST_F(TinyModels, DeepseekV2FiniteCausalSensitive) { expect_finite_and_sensitive(path("deepseek-v2")); }
TEST_F(TinyModels, Qwen2FiniteCausalSensitive) { expect_finite_and_sensitive(path("qwen2")); }
TEST_F(TinyModels, LlamaFiniteCausalSensitive) { expect_finite_and_sensitive(path("llama")); }

// Position 0 attends only to itself, so neither RoPE nor the softmax scale can change it;
// later positions must change when YaRN is switched off (tiny presets use factor 4).
TEST_F(TinyModels, YarnChangesOnlyLaterPositions) {
  const std::vector<int32_t> toks = {3, 200, 77, 410};
  const auto on = run(path("deepseek-v3"), toks), off = run(path("deepseek-v3"), toks, RefOptions{.use_yarn = false});
  ASSERT_EQ(on.size(), off.size());
  EXPECT_EQ(row(on, 0, kTinyVocab), row(off, 0, kTinyVocab));
  for (size_t t = 1; t < toks.size(); ++t) EXPECT_NE(row(on, t, kTinyVocab), row(off, t, kTinyVocab));
}

TEST_F(TinyModels, MtpShapeFiniteAndCausal) {
  const std::vector<int32_t> a = {1, 9, 250, 31, 400}, b = {1, 9, 250, 31, 401};
  auto la = mtp_logits(path("deepseek-v3"), a), lb = mtp_logits(path("deepseek-v3"), b);
  ASSERT_TRUE(la.ok()) << la.message();
  ASSERT_TRUE(lb.ok()) << lb.message();
  ASSERT_EQ(la->size(), (a.size() - 1) * kTinyVocab);
  for (double x : *la) ASSERT_TRUE(std::isfinite(x));
  // Draft i reads h_i and t_{i+1}: only the last draft sees the last token.
  for (size_t i = 0; i + 2 < a.size(); ++i) EXPECT_EQ(row(*la, i, kTinyVocab), row(*lb, i, kTinyVocab)) << i;
  EXPECT_NE(row(*la, a.size() - 2, kTinyVocab), row(*lb, a.size() - 2, kTinyVocab));
  // The MTP head is not the trunk's head at the same position.
  EXPECT_NE(row(*la, 0, kTinyVocab), row(run(path("deepseek-v3"), a), 1, kTinyVocab));
}

TEST_F(TinyModels, ErrorsAreStatuses) {
  EXPECT_FALSE(forward_logits((dir() / "absent.gguf").string(), {1, 2}).ok());
  auto bad_id = forward_logits(path("deepseek-v3"), {1, static_cast<int32_t>(kTinyVocab)});
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.message().find("512"), std::string::npos) << bad_id.message();
  EXPECT_FALSE(forward_logits(path("llama"), {}).ok());
  auto no_mtp = mtp_logits(path("deepseek-v2"), {1, 2, 3});
  ASSERT_FALSE(no_mtp.ok());
  EXPECT_NE(no_mtp.message().find("MTP"), std::string::npos) << no_mtp.message();
  const auto vocab_only = test::testdata_dir() / "tokenizer" / "ggml-vocab-deepseek-llm.gguf";
  if (std::filesystem::exists(vocab_only)) {  // llama keys, no tensors
    auto r = forward_logits(vocab_only.string(), {1, 2});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("token_embd.weight"), std::string::npos) << r.message();
  }
}

// ---- Hand-made routing cases (DEEPSEEK_NOTES.md "Routing") ----

// 8 experts in 4 groups of 2, keep 2 groups, pick 2 experts. Zero router logits make every
// sigmoid score 0.5, so the bias alone decides: the best single experts (0 and 2) sit in groups
// whose top-2 sums lose to groups 2 and 3. DeepSeek's grouping must pick 4 and 5 (the tie 4/5
// and 6/7: lower index wins); an engine that ignores groups would pick 0 and 2.
TEST(ReferenceRouting, GroupLimitedNoauxTcUsesTop2SumAndBiasOnlyChooses) {
  const Vec logits(8, 0.0), bias = {0.4, -0.5, 0.35, -0.5, 0.1, 0.1, 0.0, 0.0};
  const RouteParams p{.sigmoid = true, .n_group = 4, .n_group_used = 2, .n_used = 2, .norm = true, .scale = 2.5};
  const Routing r = route(logits, bias, p);
  EXPECT_EQ(r.experts, (std::vector<int64_t>{4, 5}));
  ASSERT_EQ(r.weights.size(), 2u);
  EXPECT_DOUBLE_EQ(r.weights[0], 1.25);  // 0.5 / (0.5 + 0.5) · 2.5: the bias never weights
  EXPECT_DOUBLE_EQ(r.weights[1], 1.25);
  // One group kept, no grouping: the winners change as the equations say.
  EXPECT_EQ(route(logits, bias, {.sigmoid = true, .n_group = 4, .n_group_used = 1, .n_used = 2}).experts,
            (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(route(logits, bias, {.sigmoid = true, .n_group = 1, .n_group_used = 1, .n_used = 2}).experts,
            (std::vector<int64_t>{0, 2}));
}

// V2 group_limited_greedy: no bias, group score = the max softmax score in the group;
// weights are the softmax scores times the scale, not renormalised.
TEST(ReferenceRouting, GroupLimitedGreedyUsesGroupMaxAndNoRenorm) {
  const Vec logits = {2.0, 1.9, 2.1, -3.0, 1.0, 1.0, -1.0, 2.05};
  const RouteParams p{.sigmoid = false, .n_group = 4, .n_group_used = 2, .n_used = 3, .norm = false, .scale = 16.0};
  const Routing r = route(logits, {}, p);
  // Group maxima g0 2.0, g1 2.1, g2 1.0, g3 2.05 -> keep g1 and g3, i.e. experts {2, 3, 6, 7};
  // by score: 2 (2.1), 7 (2.05), 6 (-1.0). Expert 0 (2.0) is better than 6 but its group lost.
  EXPECT_EQ(r.experts, (std::vector<int64_t>{2, 7, 6}));
  double z = 0.0;
  for (double l : logits) z += std::exp(l);
  EXPECT_NEAR(r.weights[0], 16.0 * std::exp(2.1) / z, 1e-12);
  EXPECT_NEAR(r.weights[2], 16.0 * std::exp(-1.0) / z, 1e-12);
}

TEST(ReferenceRouting, TiesPickTheLowerIndex) {
  const Routing r = route(Vec(6, 0.3), {}, {.sigmoid = true, .n_used = 3});
  EXPECT_EQ(r.experts, (std::vector<int64_t>{0, 1, 2}));
}

// ---- YaRN with DeepSeek-V3's real config (configs/deepseek-v3-hf/config.json) ----
TEST(ReferenceYarn, DeepseekV3NumbersMatchTheNotes) {
  const Yarn y{.factor = 40, .orig_ctx = 4096, .beta_fast = 32, .beta_slow = 1, .mscale_all_dim = 1.0};
  const YarnRange r = yarn_range(64, 10000.0, y);
  EXPECT_EQ(r.low, 10.0);   // floor(64·ln(4096/(2π·32)) / (2·ln 10⁴)) = floor(10.47)
  EXPECT_EQ(r.high, 23.0);  // ceil(64·ln(4096/(2π)) / (2·ln 10⁴)) = ceil(22.50)
  const double m = yarn_mscale(y);
  EXPECT_NEAR(m * m, 1.874, 5e-4);  // DEEPSEEK_NOTES.md: softmax scale ≈ 1.874 × 192^-0.5
  const Vec plain = rope_freqs(64, 10000.0), scaled = yarn_freqs(64, 10000.0, y);
  EXPECT_EQ(scaled[5], plain[5]);                   // below low: extrapolate (unchanged)
  EXPECT_DOUBLE_EQ(scaled[31], plain[31] / 40.0);   // above high: interpolate (÷ factor)
  EXPECT_DOUBLE_EQ(scaled[16], plain[16] * (1 - 6.0 / 13) + plain[16] / 40 * (6.0 / 13));
}

// ---- GGUF rewriting, for layout and permutation tests ----

struct FloatTensor {
  std::string name;
  std::vector<int64_t> ne;
  std::vector<float> data;
};

std::vector<FloatTensor> read_all(const GgufFile& f) {
  std::vector<FloatTensor> out;
  for (const auto& t : f.tensors()) {
    FloatTensor ft{t.name, t.ne, std::vector<float>(static_cast<size_t>(t.n_elements()))};
    kernels::dequantize_row(t.dtype, f.tensor_data(t).data(), ft.data.data(), t.n_elements());
    out.push_back(std::move(ft));
  }
  return out;
}

// Writes `tensors` (as f32) with `f`'s metadata minus `drop_keys`, plus `add_keys`.
void write_all(const GgufFile& f, const std::vector<FloatTensor>& tensors, const std::string& path,
               const std::vector<std::string>& drop_keys = {},
               const std::vector<std::pair<std::string, GgufValue>>& add_keys = {}) {
  GgufWriter w;
  for (const auto& [k, v] : f.metadata())
    if (std::find(drop_keys.begin(), drop_keys.end(), k) == drop_keys.end() && k != "general.alignment") w.set(k, v);
  for (const auto& [k, v] : add_keys) w.set(k, v);
  for (const auto& t : tensors) w.add_tensor(t.name, DType::kF32, t.ne);
  Status st = w.write(path, [&](size_t i, std::span<std::byte> out) {
    std::memcpy(out.data(), tensors[i].data.data(), out.size());
    return ok_status();
  });
  ASSERT_TRUE(st.ok()) << st.message();
}

double max_abs_diff(const Vec& a, const Vec& b) {
  double d = 0.0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

FloatTensor* find(std::vector<FloatTensor>& ts, const std::string& name) {
  for (auto& t : ts)
    if (t.name == name) return &t;
  return nullptr;
}

// Older deepseek2 GGUFs: one attn_kv_b [H·(Dn+Dv)][Ckv] per layer and no *_mla keys.
// Built from the split attn_k_b [H][Ckv][Dn] / attn_v_b [H][Dv][Ckv]; logits must agree.
TEST_F(TinyModels, OlderKvBLayoutGivesTheSameLogits) {
  for (const std::string arch : {"deepseek-v3", "deepseek-v2"}) {
    auto f = GgufFile::open(path(arch));
    ASSERT_TRUE(f.ok()) << f.message();
    std::vector<FloatTensor> ts = read_all(*f), out;
    for (auto& t : ts) {
      if (t.name.find("attn_v_b") != std::string::npos) continue;
      if (t.name.find("attn_k_b") == std::string::npos) { out.push_back(t); continue; }
      const FloatTensor& vb = *find(ts, std::string(t.name).replace(t.name.find("attn_k_b"), 8, "attn_v_b"));
      const int64_t Dn = t.ne[0], C = t.ne[1], H = t.ne[2], Dv = vb.ne[1];
      FloatTensor kv{std::string(t.name).replace(t.name.find("attn_k_b"), 8, "attn_kv_b"), {C, H * (Dn + Dv)}, {}};
      kv.data.resize(static_cast<size_t>(C * H * (Dn + Dv)));
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Dn + Dv; ++i)
          for (int64_t c = 0; c < C; ++c)
            kv.data[static_cast<size_t>((h * (Dn + Dv) + i) * C + c)] =
                i < Dn ? t.data[static_cast<size_t>((h * C + c) * Dn + i)] : vb.data[static_cast<size_t>((h * Dv + i - Dn) * C + c)];
      out.push_back(std::move(kv));
    }
    const int64_t Dq = *f->get_int("deepseek2.attention.key_length_mla"), Dv = *f->get_int("deepseek2.attention.value_length_mla");
    const std::string old_path = (dir() / (arch + "-kv_b.gguf")).string();
    write_all(*f, out, old_path, {"deepseek2.attention.key_length_mla", "deepseek2.attention.value_length_mla"},
              {{"deepseek2.attention.key_length", GgufValue::u32(static_cast<uint32_t>(Dq))},
               {"deepseek2.attention.value_length", GgufValue::u32(static_cast<uint32_t>(Dv))}});
    const std::vector<int32_t> toks = {1, 40, 41, 300, 7};
    const Vec a = run(path(arch), toks), b = run(old_path, toks);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_LT(max_abs_diff(a, b), 1e-12) << arch;
  }
}

// Renumbering the routed experts (router rows, bias, and each expert's gate/up/down slice
// together) must not change the logits. Reversal keeps V3's groups of 2 as groups.
// Catches slicing of the stacked [X][Fe][E] / [X][E][Fe] tensors out of step with the router.
TEST_F(TinyModels, ExpertRenumberingLeavesLogitsUnchanged) {
  for (const std::string arch : {"deepseek-v3", "deepseek-v2"}) {
    auto f = GgufFile::open(path(arch));
    ASSERT_TRUE(f.ok()) << f.message();
    std::vector<FloatTensor> ts = read_all(*f);
    for (auto& t : ts) {
      const bool stacked = t.name.find("_exps.") != std::string::npos;
      const bool per_expert = t.name.find("ffn_gate_inp") != std::string::npos || t.name.find("exp_probs_b") != std::string::npos;
      if (!stacked && !per_expert) continue;
      const int64_t X = t.ne.back(), slice = static_cast<int64_t>(t.data.size()) / X;
      std::vector<float> p(t.data.size());
      for (int64_t e = 0; e < X; ++e)
        std::copy_n(t.data.begin() + (X - 1 - e) * slice, slice, p.begin() + e * slice);
      t.data = std::move(p);
    }
    const std::string perm_path = (dir() / (arch + "-perm.gguf")).string();
    write_all(*f, ts, perm_path);
    const std::vector<int32_t> toks = {1, 2, 250, 13, 499, 64};
    const Vec a = run(path(arch), toks), b = run(perm_path, toks);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_LT(max_abs_diff(a, b), 1e-9) << arch;
    EXPECT_GT(max_abs_diff(a, run(path(arch == "deepseek-v3" ? "deepseek-v2" : "deepseek-v3"), toks)), 1e-3);
  }
}

// RMSNorm applies to the latent c_kv only, not to k_rope (DEEPSEEK_NOTES.md "MLA"): scaling the
// latent rows of attn_kv_a_mqa by 3 is undone by the norm (up to eps), scaling the rope rows is not.
TEST_F(TinyModels, KvNormCoversTheLatentButNotTheRopeKey) {
  auto f = GgufFile::open(path("deepseek-v3"));
  ASSERT_TRUE(f.ok()) << f.message();
  const int64_t C = *f->get_int("deepseek2.attention.kv_lora_rank");
  auto scaled = [&](bool latent) {
    std::vector<FloatTensor> ts = read_all(*f);
    for (auto& t : ts) {
      if (t.name.find("attn_kv_a_mqa") == std::string::npos) continue;
      const int64_t E = t.ne[0], rows = t.ne[1];
      for (int64_t r = latent ? 0 : C; r < (latent ? C : rows); ++r)
        for (int64_t i = 0; i < E; ++i) t.data[static_cast<size_t>(r * E + i)] *= 3.0f;
    }
    const std::string out = (dir() / (latent ? "latent3.gguf" : "rope3.gguf")).string();
    write_all(*f, ts, out);
    return out;
  };
  const std::vector<int32_t> toks = {1, 77, 78, 300, 5};
  const Vec base = run(path("deepseek-v3"), toks);
  const double d_latent = max_abs_diff(base, run(scaled(true), toks)), d_rope = max_abs_diff(base, run(scaled(false), toks));
  EXPECT_LT(d_latent, 1e-4);  // measured 1.3e-5 (eps = 1e-6 is not scale-invariant)
  EXPECT_GT(d_rope, 1e-3);
}

}  // namespace
}  // namespace dseek::reference
