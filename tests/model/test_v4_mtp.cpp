// DeepSeek-V4's MTP block (docs/design/deepseek-v4.md §2.7) against the float64
// reference (tests/reference/deepseek_v4_ref.*): `init --mtp 1` writes its
// tensors, the model binds them, and forward_mtp's draft logits match the
// reference's, on the tiny preset (sliding + CSA + HCA trunk, 64 tokens: the
// MTP block's window of 8 evicts) and on a sliding-only trunk. Without --mtp
// the files hold no MTP tensors and the model refuses forward_mtp.
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
