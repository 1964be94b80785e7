// DeepSeek-V4 (tiny preset: a sliding-window layer, a CSA layer (ratio 4,
// indexer top-4) and an HCA layer (ratio 16), window 8, mHC with 4 streams, a
// hash-routed first MoE layer, the SwiGLU clamp at 0.5 so that it acts)
// against the float64 reference (tests/reference/deepseek_v4_ref.*), and the
// forward's invariances: prefill = token by token = any chunking, batch
// invariance, 1 vs 2 threads, the paged cache. 64 tokens: the window evicts,
// HCA emits 4 entries and CSA 16, of which the indexer must choose 4.
//
// Tolerance 1e-5 absolute on logits of scale ~10: float32 (unit roundoff 6e-8)
// over a few hundred sequential operations gives ~1e-6. The sensitivity tests
// show each deliberate deviation (19 Sinkhorn iterations, another hc_eps, no
// sink, a symmetric gate clamp) moves the reference's logits by more than
// that, so the tolerance would notice such a mistake in the engine.
#include <gtest/gtest.h>

#include <cmath>

#include "model/model.h"
#include "reference/deepseek_v4_ref.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::TempDir;
using test::run_dseek;

constexpr double kTolerance = 1e-5;

std::vector<int32_t> prompt(size_t n, int32_t vocab) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 37 + 11) % static_cast<size_t>(vocab));
  return t;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}
double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

class V4Tiny : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    path_ = (*dir_ / "m.gguf").string();
    auto r = run_dseek("init --arch deepseek-v4 --preset tiny --dtype f32 -o '" + path_ + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    model_ = test::load_model_or_fail(path_);
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete dir_;
  }
  static inline TempDir* dir_ = nullptr;
  static inline std::string path_;
  static inline std::shared_ptr<const Model> model_;
};

// The model's logits against the reference over `n` tokens; prints the error.
void expect_matches_reference(const Model& m, const std::string& path, size_t n, const char* what, double tolerance) {
  const auto toks = prompt(n, static_cast<int32_t>(m.n_vocab()));
  const auto got = test::chunked_logits(m, toks, toks.size(), AttentionMode::kAuto);
  auto want = reference::deepseek_v4_logits(path, toks);
  ASSERT_TRUE(want.ok()) << want.message();
  double scale = 0;
  for (double v : *want) scale = std::max(scale, std::fabs(v));
  const double err = max_abs_diff(got, *want);
  std::printf("deepseek-v4 %s: max |logit error| %.3g at logit scale %.3g over %zu tokens\n", what, err, scale, n);
  EXPECT_LT(err, tolerance) << what;
  EXPECT_GT(scale, 1.0);
}

TEST_F(V4Tiny, LogitsMatchTheFloat64Reference) {
  ASSERT_TRUE(model_);
  expect_matches_reference(*model_, path_, 64, "tiny (sliding + CSA + HCA)", kTolerance);
}

// Per layer kind: the first layer alone (sliding), then with the CSA layer;
// the whole tiny model above adds the HCA layer.
TEST(V4Init, EachLayerKindMatchesTheReference) {
  TempDir dir;
  for (const auto& [layers, what] : {std::pair{1, "1 layer (sliding)"}, std::pair{2, "2 layers (sliding + CSA)"}}) {
    const std::string path = (dir / ("m" + std::to_string(layers) + ".gguf")).string();
    auto r = run_dseek("init --arch deepseek-v4 --preset tiny --dtype f32 --layers " + std::to_string(layers) + " -o '" + path + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto m = test::load_model_or_fail(path);
    ASSERT_TRUE(m);
    expect_matches_reference(*m, path, 64, what, kTolerance);
  }
}

// The compressed state only moves forward: a step that would rewind it is
// refused with a reason; position 0 starts afresh and repeats a fresh run.
TEST_F(V4Tiny, CompressedCacheRefusesToRewindAndRestartsAtZero) {
  ASSERT_TRUE(model_);
  const auto toks = prompt(12, static_cast<int32_t>(model_->n_vocab()));
  KvCache cache = model_->new_cache(64);
  ThreadPool pool(1);
  std::vector<float> a(toks.size() * static_cast<size_t>(model_->n_vocab())), b(a.size());
  ASSERT_TRUE(model_->forward(toks, cache, pool, ForwardOptions{}, a.data()).ok());
  cache.n_past = 5;
  const Status st = model_->forward(toks, cache, pool, ForwardOptions{}, b.data());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot rewind"), std::string::npos) << st.message();
  cache.n_past = 0;
  ASSERT_TRUE(model_->forward(toks, cache, pool, ForwardOptions{}, b.data()).ok());
  EXPECT_EQ(a, b);
}

TEST_F(V4Tiny, ReferenceNoticesEachDeliberateMistake) {
  const auto toks = prompt(24, 256);
  auto base = reference::deepseek_v4_logits(path_, toks);
  ASSERT_TRUE(base.ok()) << base.message();
  const std::pair<const char*, reference::V4RefOptions> mistakes[] = {
      {"19 Sinkhorn iterations", {.sinkhorn_iters = 19}},
      {"hc_eps 1e-5", {.hc_eps = 1e-5}},
      {"no attention sink", {.drop_sinks = true}},
      {"symmetric gate clamp", {.symmetric_gate_clamp = true}},
  };
  for (const auto& [what, opt] : mistakes) {
    auto moved = reference::deepseek_v4_logits(path_, toks, opt);
    ASSERT_TRUE(moved.ok()) << moved.message();
    const double d = max_abs_diff(*moved, *base);
    std::printf("  %s moves the logits by %.3g\n", what, d);
    EXPECT_GT(d, 3 * kTolerance) << what;
  }
}

TEST_F(V4Tiny, PrefillEqualsTokenByTokenAndAnyChunking) {
  ASSERT_TRUE(model_);
  const auto toks = prompt(48, static_cast<int32_t>(model_->n_vocab()));  // the paged helper holds 48
  const auto whole = test::chunked_logits(*model_, toks, toks.size(), AttentionMode::kAuto);
  for (size_t chunk : {1, 3, 5, 7, 13}) EXPECT_EQ(test::chunked_logits(*model_, toks, chunk, AttentionMode::kAuto), whole) << chunk;
  EXPECT_EQ(test::chunked_logits(*model_, toks, toks.size(), AttentionMode::kAuto, 2), whole) << "2 threads";
  EXPECT_EQ(test::paged_logits(*model_, toks, AttentionMode::kAuto, 2), whole) << "paged cache";
}

TEST_F(V4Tiny, BatchInvariant) {
  ASSERT_TRUE(model_);
  const auto a = prompt(50, 256), b = prompt(37, 200);  // both past the indexer's top-k
  const size_t V = static_cast<size_t>(model_->n_vocab());
  const auto alone_a = test::chunked_logits(*model_, a, a.size(), AttentionMode::kAuto);
  const auto alone_b = test::chunked_logits(*model_, b, b.size(), AttentionMode::kAuto);
  KvCache ca = model_->new_cache(64), cb = model_->new_cache(64);
  const SeqBatch batch[] = {{a, &ca, true, true}, {b, &cb, true, true}};
  std::vector<float> both((a.size() + b.size()) * V);
  ThreadPool pool(2);
  ASSERT_TRUE(model_->forward_batch(batch, pool, ForwardOptions{}, both.data()).ok());
  EXPECT_EQ(std::vector<float>(both.begin(), both.begin() + a.size() * V), alone_a);
  EXPECT_EQ(std::vector<float>(both.begin() + a.size() * V, both.end()), alone_b);
}

TEST(V4Init, InspectReportsTheLayerKindsAndCacheBytes) {
  TempDir dir;
  const std::string path = (dir / "m.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v4 --preset tiny -o '" + path + "'").exit_code, 0);
  auto r = run_dseek("inspect '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1 sliding, 1 CSA, 1 HCA"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cache bytes / token / layer (sliding)"), std::string::npos) << r.out;
}

// The small preset (4 layers, E 256, head_dim 128, clamp 10) against the
// reference, and `run` generating from a V4 file.
TEST(V4Init, SmallPresetMatchesTheReferenceAndRuns) {
  TempDir dir;
  const std::string path = (dir / "m.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v4 --preset small -o '" + path + "'").exit_code, 0);
  auto m = test::load_model_or_fail(path);
  ASSERT_TRUE(m);
  const auto toks = prompt(20, static_cast<int32_t>(m->n_vocab()));
  const auto got = test::chunked_logits(*m, toks, 6, AttentionMode::kAuto);
  auto want = reference::deepseek_v4_logits(path, toks);
  ASSERT_TRUE(want.ok()) << want.message();
  const double err = max_abs_diff(got, *want);
  std::printf("deepseek-v4 small (sliding, CSA, HCA, CSA): max |logit error| %.3g\n", err);
  EXPECT_LT(err, 2 * kTolerance);  // dots 4x longer than tiny's (observed 7.8e-6)
  auto r = run_dseek("run -m '" + path + "' -p hi -n 4 --temp 0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace dseek
