// See optimizer.h.
#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

namespace dseek::train {

double scheduled_lr(const AdamWConfig& c, int64_t step) {
  if (c.warmup > 0 && step < c.warmup) return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup);
  const double span = static_cast<double>(std::max<int64_t>(1, c.total_steps - c.warmup));
  const double p = std::clamp(static_cast<double>(step - c.warmup) / span, 0.0, 1.0);
  return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + std::cos(3.141592653589793 * p));
}

AdamW::AdamW(AdamWConfig c, std::span<Param<float>* const> params) : c_(c) {
  for (const Param<float>* p : params) {
    m_.emplace_back(p->w.size(), 0.0f);
    v_.emplace_back(p->w.size(), 0.0f);
  }
}

double AdamW::step(std::span<Param<float>* const> params) {
  double sq = 0;
  for (const Param<float>* p : params)
    for (float g : p->g) sq += static_cast<double>(g) * g;
  const double norm = std::sqrt(sq);
  const double clip_scale = c_.clip > 0 && norm > c_.clip ? c_.clip / norm : 1.0;
  const double lr = scheduled_lr(c_, t_);
  ++t_;
  const double bc1 = 1.0 - std::pow(c_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(c_.beta2, static_cast<double>(t_));
  const float b1 = static_cast<float>(c_.beta1), b2 = static_cast<float>(c_.beta2);
  for (size_t i = 0; i < params.size(); ++i) {
    Param<float>& p = *params[i];
    std::vector<float>& m = m_[i];
    std::vector<float>& v = v_[i];
    const float decay = p.decay ? static_cast<float>(lr * c_.weight_decay) : 0.0f;
    for (size_t j = 0; j < p.w.size(); ++j) {
      const float g = static_cast<float>(p.g[j] * clip_scale);
      m[j] = b1 * m[j] + (1 - b1) * g;
      v[j] = b2 * v[j] + (1 - b2) * g * g;
      const double update = (m[j] / bc1) / (std::sqrt(v[j] / bc2) + c_.eps);
      p.w[j] -= static_cast<float>(lr * update) + decay * p.w[j];  // decoupled decay
    }
  }
  return norm;
}

}  // namespace dseek::train
