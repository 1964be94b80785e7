// See moe_routing.h. Ties are broken towards the lower expert/group index.
#include "model/blocks/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace dseek {

void route_token(const RoutingConfig& cfg, const float* logits, const float* bias, float* scratch, int32_t* idx,
                 float* w) {
  const int64_t X = cfg.n_expert;
  float* score = scratch;       // what weights use
  float* select = scratch + X;  // what selection uses (score + bias)
  if (cfg.sigmoid) {
    for (int64_t e = 0; e < X; ++e) score[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  } else {
    const float mx = *std::max_element(logits, logits + X);
    double sum = 0;
    for (int64_t e = 0; e < X; ++e) sum += (score[e] = std::exp(logits[e] - mx));
    for (int64_t e = 0; e < X; ++e) score[e] = static_cast<float>(score[e] / sum);
  }
  for (int64_t e = 0; e < X; ++e) select[e] = score[e] + (bias ? bias[e] : 0.0f);

  if (cfg.n_group > 1) {
    // Group score: sum of the group's top-2 when a bias is used (noaux_tc), else its max.
    const int64_t per = X / cfg.n_group;
    std::vector<std::pair<float, int64_t>> groups;
    for (int64_t g = 0; g < cfg.n_group; ++g) {
      float top1 = -std::numeric_limits<float>::infinity(), top2 = top1;
      for (int64_t e = g * per; e < (g + 1) * per; ++e) {
        if (select[e] > top1) top2 = top1, top1 = select[e];
        else if (select[e] > top2) top2 = select[e];
      }
      groups.emplace_back(bias ? top1 + (per > 1 ? top2 : 0.0f) : top1, g);
    }
    std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (int64_t k = cfg.n_group_used; k < cfg.n_group; ++k) {
      const int64_t g = groups[static_cast<size_t>(k)].second;
      for (int64_t e = g * per; e < (g + 1) * per; ++e) select[e] = -std::numeric_limits<float>::infinity();
    }
  }
  // Top-k by selection score (stable: lower index wins ties), reported in index order.
  std::vector<int32_t> order(static_cast<size_t>(X));
  for (int64_t e = 0; e < X; ++e) order[static_cast<size_t>(e)] = static_cast<int32_t>(e);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return select[a] > select[b]; });
  std::sort(order.begin(), order.begin() + cfg.n_used);
  double sum = 0;
  for (int64_t k = 0; k < cfg.n_used; ++k) {
    idx[k] = order[static_cast<size_t>(k)];
    w[k] = score[idx[k]];
    sum += w[k];
  }
  for (int64_t k = 0; k < cfg.n_used; ++k) {
    if (cfg.normalize) w[k] = static_cast<float>(w[k] / sum);
    w[k] *= cfg.scale;
  }
}

}  // namespace dseek
