// Every gradient of the trainable DeepSeek model (embedding, RMSNorms, MLA with
// and without query compression, decoupled RoPE, attention, dense MLP, shared
// and routed experts, the router under sigmoid/softmax and group-limited
// selection with the balancing bias, the balance loss, the MTP module, the
// output head and cross-entropy) against central finite differences in
// float64 on tiny shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "train/backward/ops.h"
#include "train/train_model.h"
#include "support/tiny_train_config.h"

namespace dseek::train {
namespace {

DeepseekHParams tiny_v3() { return tiny_train_v3(); }

DeepseekHParams tiny_v2() {
  DeepseekHParams h = tiny_v3();
  h.q_lora_rank = 0; h.n_group = 1; h.n_group_used = 1; h.gating = Gating::kSoftmax; h.norm_topk = false;
  h.expert_bias = false; h.route_scale = 1.0; h.n_mtp = 0; h.n_expert_shared = 2;
  return h;
}

// Checks a spread of entries of every parameter: analytic vs (L(w+e) - L(w-e)) / 2e.
void check_gradients(const DeepseekHParams& h, double alpha, bool distill = false, bool policy = false) {
  ThreadPool pool(2);
  TrainModel<double> m(h, 8, 7);
  // Make the selection bias non-trivial, so selection differs from plain top-k.
  for (auto* b : m.expert_biases())
    for (size_t i = 0; i < b->size(); ++i) (*b)[i] = 0.05f * static_cast<float>(i % 3);
  const std::vector<int32_t> tokens = {1, 5, 2, 12, 7, 3, 0, 9, 4, 4, 11, 6};
  LossOptions opt{.mtp_weight = 0.3, .balance_alpha = alpha};
  std::vector<float> teacher(tokens.size() * static_cast<size_t>(h.n_vocab));
  std::vector<int32_t> pg_targets(tokens.size());
  std::vector<float> pg_weights(tokens.size());
  if (policy) {  // GRPO's objective: signed per-token weights on chosen tokens, some positions unweighted
    for (size_t i = 0; i < tokens.size(); ++i) {
      pg_targets[i] = i % 4 == 3 ? -1 : static_cast<int32_t>((i * 5 + 1) % static_cast<size_t>(h.n_vocab));
      pg_weights[i] = static_cast<float>(i % 2 ? 0.3 : -0.2);
    }
    opt.pg_targets = pg_targets.data();
    opt.pg_weights = pg_weights.data();
  }
  if (distill) {  // a teacher distribution to distil, at temperature 2, mixed with cross-entropy
    Rng rng(5);
    for (float& t : teacher) t = static_cast<float>(2 * rng.normal());
    opt.teacher_logits = teacher.data();
    opt.ce_weight = 0.5;
    opt.kd_weight = 0.7;
    opt.kd_temperature = 2.0;
  }
  m.zero_grad();
  const StepResult base = m.step(pool, tokens, 2, opt);
  ASSERT_TRUE(std::isfinite(base.loss));
  ASSERT_GT(base.tokens, 0);
  if (h.n_mtp > 0) {
    EXPECT_GT(base.mtp_ce, 0.0);
  }
  if (alpha > 0) {
    EXPECT_GT(base.balance, 0.0);
  }
  if (distill) {
    EXPECT_GT(base.kd, 0.0);
  }
  LossOptions fwd = opt;
  fwd.backward = false;
  const double eps = 1e-6;
  int checked = 0;
  for (Param<double>* p : m.params()) {
    const int64_t n = p->size();
    const int64_t stride = std::max<int64_t>(1, n / 7);
    for (int64_t i = 0; i < n; i += stride) {
      const double w0 = p->w[static_cast<size_t>(i)];
      p->w[static_cast<size_t>(i)] = w0 + eps;
      const double lp = m.step(pool, tokens, 2, fwd).loss;
      p->w[static_cast<size_t>(i)] = w0 - eps;
      const double lm = m.step(pool, tokens, 2, fwd).loss;
      p->w[static_cast<size_t>(i)] = w0;
      const double fd = (lp - lm) / (2 * eps);
      const double an = p->g[static_cast<size_t>(i)];
      EXPECT_NEAR(an, fd, 1e-6 + 1e-5 * std::abs(fd)) << p->name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(TrainGradients, DeepseekV3ShapeWithMtpSigmoidGroupsAndBias) { check_gradients(tiny_v3(), 0.1); }
TEST(TrainGradients, DeepseekV2ShapeSoftmaxNoQueryCompression) { check_gradients(tiny_v2(), 0.1); }
TEST(TrainGradients, WithoutBalanceLoss) { check_gradients(tiny_v3(), 0.0); }
TEST(TrainGradients, LogitDistillationWithTemperature) { check_gradients(tiny_v2(), 0.0, true); }
TEST(TrainGradients, PolicyGradientObjective) { check_gradients(tiny_v3(), 0.0, false, true); }

// The float path of linear (the inference GEMM over transposed operands) against the float64 loops.
TEST(TrainGradients, FloatLinearBackwardMatchesFloat64) {
  ThreadPool pool(2);
  Rng rng(9);
  const int64_t n = 37, in = 29, out = 45;
  std::vector<double> x(n * in), w(out * in), dy(n * out), dx(n * in, 0.5), dw(out * in, -0.25), y(n * out);
  for (auto* v : {&x, &w, &dy})
    for (double& e : *v) e = static_cast<double>(static_cast<float>(rng.normal()));
  auto as_float = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  std::vector<float> xf = as_float(x), wf = as_float(w), dyf = as_float(dy), dxf = as_float(dx), dwf = as_float(dw),
                     yf(y.size());
  linear_fwd(pool, x.data(), n, in, w.data(), out, y.data());
  linear_fwd(pool, xf.data(), n, in, wf.data(), out, yf.data());
  linear_bwd(pool, x.data(), n, in, w.data(), out, dy.data(), dx.data(), dw.data());
  linear_bwd(pool, xf.data(), n, in, wf.data(), out, dyf.data(), dxf.data(), dwf.data());
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(yf[i], y[i], 1e-4) << i;
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dxf[i], dx[i], 1e-4) << i;
  for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dwf[i], dw[i], 1e-4) << i;
}

// The gradient of a whole batch equals the sum of its sequences' gradients
// weighted by their share of target tokens (the batch loss is a token mean):
// sequences do not leak into each other through attention or MoE grouping.
TEST(TrainGradients, SequencesAreIndependent) {
  ThreadPool pool(1);
  DeepseekHParams h = tiny_v3();
  h.n_mtp = 0;
  TrainModel<double> m(h, 8, 3);
  const std::vector<int32_t> a = {1, 5, 2, 12, 7}, b = {3, 0, 9, 4, 4};
  std::vector<int32_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  const LossOptions opt{.mtp_weight = 0, .balance_alpha = 0};
  std::vector<double> ga, gb;
  auto grads = [&](const std::vector<int32_t>& t, int64_t n_seq) {
    m.zero_grad();
    m.step(pool, t, n_seq, opt);
    std::vector<double> g;
    for (auto* p : m.params()) g.insert(g.end(), p->g.begin(), p->g.end());
    return g;
  };
  ga = grads(a, 1);
  gb = grads(b, 1);
  const std::vector<double> gab = grads(ab, 2);
  for (size_t i = 0; i < gab.size(); ++i) ASSERT_NEAR(gab[i], 0.5 * (ga[i] + gb[i]), 1e-12) << i;
}

}  // namespace
}  // namespace dseek::train
