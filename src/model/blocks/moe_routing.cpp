// See moe_routing.h. Ties are broken towards the lower expert/group index.
// Allocation-free (it runs per token per MoE layer): the best groups and
// experts are picked by repeated arg-max over the scratch, which picks exactly
// what a stable sort by descending score followed by taking the first k would.
#include "model/blocks/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dseek {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The index of the largest v[i] not yet taken (taken entries hold NaN), the
// lowest index among equals; the entry is then marked taken.
int64_t take_best(float* v, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) continue;
    if (best < 0 || v[i] > v[best]) best = i;
  }
  if (best >= 0) v[best] = std::numeric_limits<float>::quiet_NaN();
  return best;
}

// Group-limited selection: keep the n_group_used best groups — scored by the sum
// of their top-2 selection scores with a bias (noaux_tc), else by their maximum —
// and rule out every other group's experts.
void limit_groups(const RoutingConfig& cfg, bool with_bias, float* select, float* group) {
  const int64_t per = cfg.n_expert / cfg.n_group;
  for (int64_t g = 0; g < cfg.n_group; ++g) {
    float top1 = kNegInf, top2 = top1;
    for (int64_t e = g * per; e < (g + 1) * per; ++e) {
      if (select[e] > top1) top2 = top1, top1 = select[e];
      else if (select[e] > top2) top2 = select[e];
    }
    group[g] = with_bias ? top1 + (per > 1 ? top2 : 0.0f) : top1;
  }
  for (int64_t k = 0; k < cfg.n_group_used; ++k) take_best(group, cfg.n_group);
  for (int64_t g = 0; g < cfg.n_group; ++g)
    if (!std::isnan(group[g]))  // not kept
      std::fill(select + g * per, select + (g + 1) * per, kNegInf);
}

// V4's score: sqrt(log(1 + e^x)), softplus computed without overflow.
float sqrt_softplus(float x) {
  const double sp = x > 20.0f ? static_cast<double>(x) : std::log1p(std::exp(static_cast<double>(x)));
  return static_cast<float>(std::sqrt(sp));
}

// Weights of the chosen experts idx[n_used] (ascending): their scores, normalised and scaled.
void weigh(const RoutingConfig& cfg, const float* score, const int32_t* idx, float* w) {
  double sum = 0;
  for (int64_t k = 0; k < cfg.n_used; ++k) {
    w[k] = score[idx[k]];
    sum += w[k];
  }
  for (int64_t k = 0; k < cfg.n_used; ++k) {
    if (cfg.normalize) w[k] = static_cast<float>(w[k] / sum);
    w[k] *= cfg.scale;
  }
}

}  // namespace

void route_token_fixed(const RoutingConfig& cfg, const float* logits, const float* experts, float* scratch,
                       int32_t* idx, float* w) {
  for (int64_t e = 0; e < cfg.n_expert; ++e) scratch[e] = sqrt_softplus(logits[e]);
  for (int64_t k = 0; k < cfg.n_used; ++k) idx[k] = static_cast<int32_t>(experts[k]);
  std::sort(idx, idx + cfg.n_used);
  weigh(cfg, scratch, idx, w);
}

int64_t route_scratch_floats(const RoutingConfig& cfg) { return 2 * cfg.n_expert + cfg.n_group; }

void route_token(const RoutingConfig& cfg, const float* logits, const float* bias, float* scratch, int32_t* idx,
                 float* w) {
  const int64_t X = cfg.n_expert;
  float* score = scratch;       // what weights use
  float* select = scratch + X;  // what selection uses (score + bias)
  if (cfg.sqrt_softplus) {
    for (int64_t e = 0; e < X; ++e) score[e] = sqrt_softplus(logits[e]);
  } else if (cfg.sigmoid) {
    for (int64_t e = 0; e < X; ++e) score[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  } else {
    const float mx = *std::max_element(logits, logits + X);
    double sum = 0;
    for (int64_t e = 0; e < X; ++e) sum += (score[e] = std::exp(logits[e] - mx));
    for (int64_t e = 0; e < X; ++e) score[e] = static_cast<float>(score[e] / sum);
  }
  for (int64_t e = 0; e < X; ++e) select[e] = score[e] + (bias ? bias[e] : 0.0f);
  if (cfg.n_group > 1) limit_groups(cfg, bias != nullptr, select, scratch + 2 * X);
  // Top-k by selection score, reported in index order.
  for (int64_t k = 0; k < cfg.n_used; ++k) idx[k] = static_cast<int32_t>(take_best(select, X));
  std::sort(idx, idx + cfg.n_used);
  weigh(cfg, score, idx, w);
}

}  // namespace dseek
