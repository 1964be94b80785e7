// DeepSeek-V4's MTP block (docs/design/deepseek-v4.md §2.7) against the float64
// reference (tests/reference/deepseek_v4_ref.*): `init --mtp 1` writes its
// tensors, the model binds them, and forward_mtp's draft logits match the
// reference's, on the tiny preset (sliding + CSA + HCA trunk, 64 tokens: the
// MTP block's window of 8 evicts) and on a sliding-only trunk. Without --mtp
// the files hold no MTP tensors and the model refuses forward_mtp. Drafting:
// forward_mtp_step over the trunk's streams (ForwardOptions::hidden, hc_mult x E
// per token) gives forward_mtp's logits, and `run --spec mtp` on a sliding-only
// V4 prints what plain greedy decoding prints (compressed layers cannot rewind,
// so speculation needs a sliding-only trunk).
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

constexpr double kTolerance = 1e-5;  // as for the trunk's logits (test_v4_forward.cpp)

void expect_mtp_matches_reference(const std::string& args, const char* what) {
  TempDir dir;
  const std::string path = (dir / "m.gguf").string();
  auto r = run_dseek("init --arch deepseek-v4 --preset tiny --dtype f32 --mtp 1 " + args + " -o '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = test::load_model_or_fail(path);
  ASSERT_TRUE(m);
  const int64_t V = m->n_vocab();
  std::vector<int32_t> toks(64);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 37 + 11) % static_cast<size_t>(V));
  std::vector<float> got(static_cast<size_t>((toks.size() - 1) * V));
  ThreadPool pool(2);
  ASSERT_TRUE(m->forward_mtp(toks, pool, got.data()).ok());
  auto want = reference::deepseek_v4_mtp_logits(path, toks);
  ASSERT_TRUE(want.ok()) << want.message();
  ASSERT_EQ(want->size(), got.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err = std::max(err, std::fabs(got[i] - (*want)[i]));
    scale = std::max(scale, std::fabs((*want)[i]));
  }
  std::printf("deepseek-v4 MTP, %s: max |logit error| %.3g at logit scale %.3g\n", what, err, scale);
  EXPECT_LT(err, kTolerance) << what;
  EXPECT_GT(scale, 1.0);
}

TEST(V4Mtp, LogitsMatchTheFloat64Reference) {
  expect_mtp_matches_reference("", "tiny trunk (sliding + CSA + HCA)");
}

TEST(V4Mtp, LogitsMatchTheFloat64ReferenceOnASlidingOnlyTrunk) {
  expect_mtp_matches_reference("--layers 1", "1-layer sliding trunk");
}

std::string init_mtp(const TempDir& dir, const std::string& args) {
  const std::string path = (dir / "m.gguf").string();
  auto r = run_dseek("init --arch deepseek-v4 --preset tiny --dtype f32 --mtp 1 " + args + " -o '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

TEST(V4Mtp, StepsOverTheTrunkStreamsGiveTheWholePromptLogits) {
  TempDir dir;
  auto m = test::load_model_or_fail(init_mtp(dir, ""));
  ASSERT_TRUE(m && m->has_mtp());
  const int64_t V = m->n_vocab(), W = m->mtp_hidden_width();
  ASSERT_EQ(W, 4 * m->n_embd());  // hc_mult streams
  std::vector<int32_t> toks(24);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 29 + 5) % static_cast<size_t>(V));
  const int64_t T = static_cast<int64_t>(toks.size());
  ThreadPool pool(2);
  std::vector<float> whole(static_cast<size_t>((T - 1) * V));
  ASSERT_TRUE(m->forward_mtp(toks, pool, whole.data()).ok());
  KvCache cache = m->new_cache(T);
  std::vector<float> hidden(static_cast<size_t>(T * W)), logits(static_cast<size_t>(T * V));
  ForwardOptions fo;
  fo.hidden = hidden.data();
  ASSERT_TRUE(m->forward(toks, cache, pool, fo, logits.data()).ok());
  KvCache mtp = m->new_mtp_cache(T);
  std::vector<float> row(static_cast<size_t>(V)), out(static_cast<size_t>(W));
  double err = 0;
  for (int64_t i = 0; i + 1 < T; ++i) {
    ASSERT_TRUE(m->forward_mtp_step(hidden.data() + i * W, std::span<const int32_t>(&toks[static_cast<size_t>(i + 1)], 1),
                                    mtp, pool, row.data(), out.data()).ok());
    for (int64_t v = 0; v < V; ++v) err = std::max(err, std::fabs(double(row[v]) - whole[static_cast<size_t>(i * V + v)]));
  }
  EXPECT_LT(err, 1e-5);
}

TEST(V4Mtp, RunSpecMtpPrintsWhatPlainGreedyPrints) {
  TempDir dir;
  const std::string path = init_mtp(dir, "--layers 1");
  const std::string base = "run -m '" + path + "' -p 'hello there' -n 32 --temp 0 -t 2";
  const auto plain = run_dseek(base);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  for (const char* spec : {"mtp", "mtp:3"}) {
    const auto r = run_dseek(base + " -v --spec " + spec);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, plain.out) << spec;
    EXPECT_NE(r.err.find("acceptance per draft position"), std::string::npos) << r.err;
  }
}

TEST(V4Mtp, WithoutMtpTheModelRefusesToDraft) {
  TempDir dir;
  const std::string path = (dir / "m.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v4 --preset tiny --layers 1 -o '" + path + "'").exit_code, 0);
  auto m = test::load_model_or_fail(path);
  ASSERT_TRUE(m);
  std::vector<float> logits(static_cast<size_t>(m->n_vocab()));
  ThreadPool pool(1);
  EXPECT_FALSE(m->forward_mtp(std::vector<int32_t>{1, 2}, pool, logits.data()).ok());
}

}  // namespace
}  // namespace dseek
