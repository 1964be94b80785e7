// LoRA on the trainer: gradients of A and B against central finite
// differences (float64), a zero B leaves the model exactly as it was, and
// packed documents do not see each other (segment_starts).
#include <gtest/gtest.h>

#include <cmath>

#include "train/lora.h"
#include "train/train_model.h"
#include "support/tiny_train_config.h"

namespace dseek::train {
namespace {

DeepseekHParams tiny() {
  DeepseekHParams h = tiny_train_v3();
  h.n_mtp = 0;
  return h;
}

const std::vector<int32_t> kTokens = {1, 5, 2, 12, 7, 3, 0, 9, 4, 4, 11, 6};

TEST(TrainLora, TargetsSelectAttentionDenseAndSharedExperts) {
  TrainModel<double> m(tiny(), 8, 7);
  auto set = LoraSet<double>::attach(m, LoraConfig{.rank = 2, .alpha = 4});
  ASSERT_TRUE(set.ok()) << set.message();
  std::vector<std::string> names;
  for (const auto& p : set->pairs()) names.push_back(p.a.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "blk.0.attn_q_a.weight.lora_a"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "blk.1.ffn_up_shexp.weight.lora_a"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "blk.0.ffn_down.weight.lora_a"), names.end());
  for (const auto& n : names) EXPECT_EQ(n.find("exps"), std::string::npos) << n;
  auto none = LoraSet<double>::attach(m, LoraConfig{.targets = "nothing_here"});
  EXPECT_FALSE(none.ok());
  auto bad = LoraSet<double>::attach(m, LoraConfig{.targets = "("});
  EXPECT_FALSE(bad.ok());
}

TEST(TrainLora, ZeroBLeavesLogitsBitIdentical) {
  ThreadPool pool(2);
  TrainModel<float> m(tiny(), 8, 7);
  std::vector<float> before, after;
  m.logits(pool, kTokens, 2, before);
  auto set = LoraSet<float>::attach(m, LoraConfig{.rank = 3, .alpha = 6});
  ASSERT_TRUE(set.ok());
  set->merge();
  m.logits(pool, kTokens, 2, after);
  set->take_gradients();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) ASSERT_EQ(before[i], after[i]) << i;
}

TEST(TrainLora, GradientsMatchFiniteDifferences) {
  ThreadPool pool(2);
  TrainModel<double> m(tiny(), 8, 7);
  auto set = LoraSet<double>::attach(m, LoraConfig{.rank = 2, .alpha = 3});
  ASSERT_TRUE(set.ok());
  Rng rng(11);
  for (auto& lp : set->pairs()) init_normal(lp.b, rng, 0.3);  // B != 0, so dA is not trivially 0
  const LossOptions opt{.mtp_weight = 0, .balance_alpha = 0.1};
  LossOptions fwd = opt;
  fwd.backward = false;
  auto loss = [&] {
    set->merge();
    const double l = m.step(pool, kTokens, 2, fwd).loss;
    set->take_gradients();
    return l;
  };
  m.zero_grad();
  set->zero_grad();
  set->merge();
  m.step(pool, kTokens, 2, opt);
  set->take_gradients();
  const double eps = 1e-6;
  int checked = 0;
  for (Param<double>* p : set->params()) {
    const int64_t n = p->size(), stride = std::max<int64_t>(1, n / 5);
    for (int64_t i = 0; i < n; i += stride) {
      const double w0 = p->w[static_cast<size_t>(i)];
      p->w[static_cast<size_t>(i)] = w0 + eps;
      const double lp = loss();
      p->w[static_cast<size_t>(i)] = w0 - eps;
      const double lm = loss();
      p->w[static_cast<size_t>(i)] = w0;
      const double fd = (lp - lm) / (2 * eps);
      EXPECT_NEAR(p->g[static_cast<size_t>(i)], fd, 1e-6 + 1e-5 * std::abs(fd)) << p->name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
  for (const auto& lp : set->pairs())  // the adapted matrices are back to their frozen values
    for (double g : lp.base->g) ASSERT_EQ(g, 0.0) << lp.base->name;
}

// Two documents packed in one row give the same logits as each in its own row.
TEST(TrainLora, PackedSegmentsDoNotAttendAcrossDocuments) {
  ThreadPool pool(1);
  TrainModel<double> m(tiny(), 12, 3);
  const std::vector<int32_t> a = {1, 5, 2, 12, 7, 3}, b = {0, 9, 4, 4, 11, 6};
  std::vector<double> separate, packed;
  std::vector<int32_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  m.logits(pool, ab, 2, separate);
  const std::vector<int64_t> seg = {0, 6, 12};
  const std::vector<int32_t> targets(12, 1);
  const std::vector<float> w(12, 1.0f / 12);
  LossOptions opt{.mtp_weight = 0, .balance_alpha = 0, .backward = false, .pg_targets = targets.data(),
                  .pg_weights = w.data()};
  opt.segment_starts = seg;
  const double l_packed = m.step(pool, ab, 1, opt).loss;
  opt.segment_starts = {};
  const double l_rows = m.step(pool, ab, 2, opt).loss;
  EXPECT_NEAR(l_packed, l_rows, 1e-12);
  std::vector<int64_t> one = {0, 12};
  opt.segment_starts = one;
  EXPECT_GT(std::abs(m.step(pool, ab, 1, opt).loss - l_rows), 1e-9);  // without the boundary it differs
}

}  // namespace
}  // namespace dseek::train
