// See rope.h.
#include "model/blocks/rope.h"

#include <algorithm>
#include <cmath>

namespace dseek {

RopeTable::RopeTable(int64_t n_dims, double theta, const YarnParams& yarn) {
  const int64_t half = n_dims / 2;
  inv_freq_.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) inv_freq_[static_cast<size_t>(i)] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(n_dims));
  if (yarn.factor <= 1.0) return;
  // Dimensions rotating faster than beta_fast turns over the original context keep
  // their frequency; slower than beta_slow are interpolated by `factor`; a linear ramp between.
  auto corr = [&](double rotations) {
    return static_cast<double>(n_dims) * std::log(yarn.orig_ctx / (rotations * 2.0 * M_PI)) / (2.0 * std::log(theta));
  };
  const double low = std::max(std::floor(corr(yarn.beta_fast)), 0.0);
  double high = std::min(std::ceil(corr(yarn.beta_slow)), static_cast<double>(n_dims - 1));
  if (low == high) high += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    double& f = inv_freq_[static_cast<size_t>(i)];
    f = f * (1.0 - ramp) + (f / yarn.factor) * ramp;
  }
  const double m = 1.0 + 0.1 * yarn.mscale_all_dim * std::log(yarn.factor);
  softmax_factor_ = m * m;
}

void RopeTable::angles(int64_t pos, float* cos, float* sin) const {
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const double a = static_cast<double>(pos) * inv_freq_[i];
    cos[i] = static_cast<float>(std::cos(a));
    sin[i] = static_cast<float>(std::sin(a));
  }
}

}  // namespace dseek
