// DeepSeek-V4 (tiny preset: 3 sliding-window layers with window 8, mHC with 4
// streams, a hash-routed first MoE layer, the SwiGLU clamp at 0.5 so that it
// acts) against the float64 reference (tests/reference/deepseek_v4_ref.*), and
// the forward's invariances: prefill = token by token = any chunking, batch
// invariance, 1 vs 2 threads, the paged cache. 40 tokens: the window evicts.
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

TEST_F(V4Tiny, LogitsMatchTheFloat64Reference) {
  ASSERT_TRUE(model_);
  const auto toks = prompt(40, static_cast<int32_t>(model_->n_vocab()));
  const auto got = test::chunked_logits(*model_, toks, toks.size(), AttentionMode::kAuto);
  auto want = reference::deepseek_v4_logits(path_, toks);
  ASSERT_TRUE(want.ok()) << want.message();
  double scale = 0;
  for (double v : *want) scale = std::max(scale, std::fabs(v));
  const double err = max_abs_diff(got, *want);
  std::printf("deepseek-v4 tiny (sliding-window layers): max |logit error| %.3g at logit scale %.3g\n", err, scale);
  EXPECT_LT(err, kTolerance);
  EXPECT_GT(scale, 1.0);
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
  const auto toks = prompt(40, static_cast<int32_t>(model_->n_vocab()));
  const auto whole = test::chunked_logits(*model_, toks, toks.size(), AttentionMode::kAuto);
  for (size_t chunk : {1, 3, 5, 7, 13}) EXPECT_EQ(test::chunked_logits(*model_, toks, chunk, AttentionMode::kAuto), whole) << chunk;
  EXPECT_EQ(test::chunked_logits(*model_, toks, toks.size(), AttentionMode::kAuto, 2), whole) << "2 threads";
  EXPECT_EQ(test::paged_logits(*model_, toks, AttentionMode::kAuto, 2), whole) << "paged cache";
}

TEST_F(V4Tiny, BatchInvariant) {
  ASSERT_TRUE(model_);
  const auto a = prompt(30, 256), b = prompt(17, 200);
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
  EXPECT_NE(r.out.find("3 sliding, 0 CSA, 0 HCA"), std::string::npos) << r.out;
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
  std::printf("deepseek-v4 small (sliding-window layers): max |logit error| %.3g\n", err);
  EXPECT_LT(err, 2 * kTolerance);  // dots 4x longer than tiny's (observed 7.8e-6)
  auto r = run_dseek("run -m '" + path + "' -p hi -n 4 --temp 0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace dseek
