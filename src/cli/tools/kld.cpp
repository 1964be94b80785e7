// See kld.h.
#include "cli/tools/kld.h"

#include <algorithm>
#include <cmath>

namespace dseek {

namespace {

// log-sum-exp of the logits and the index of the largest (first on ties).
double log_z(const float* x, int64_t n, int64_t* argmax) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  *argmax = best;
  const double m = x[best];
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  return m + std::log(s);
}

}  // namespace

void KldAccumulator::add(const float* base, const float* quant, int64_t n, int32_t next) {
  int64_t top_b = 0, top_q = 0;
  const double zb = log_z(base, n, &top_b), zq = log_z(quant, n, &top_q);
  double kl = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double lp = base[i] - zb, lq = quant[i] - zq;
    kl += std::exp(lp) * (lp - lq);
  }
  kld_.push_back(std::max(0.0, kl));  // rounding can leave a tiny negative for identical inputs
  agree_ += top_b == top_q ? 1 : 0;
  nll_base_ += zb - base[next];
  nll_quant_ += zq - quant[next];
}

KldSummary KldAccumulator::summary() const {
  KldSummary s;
  s.positions = static_cast<int64_t>(kld_.size());
  if (kld_.empty()) return s;
  const double n = static_cast<double>(kld_.size());
  double sum = 0, sq = 0;
  for (double v : kld_) sum += v, sq += v * v;
  s.kld_mean = sum / n;
  s.kld_stderr = kld_.size() > 1 ? std::sqrt(std::max(0.0, sq / n - s.kld_mean * s.kld_mean) / (n - 1)) : 0;
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  s.kld_max = sorted.back();
  s.kld_median = sorted[sorted.size() / 2];
  s.kld_p99 = sorted[std::min(sorted.size() - 1, static_cast<size_t>(std::ceil(0.99 * n)) - 1)];
  s.top1_agreement = static_cast<double>(agree_) / n;
  s.ppl_base = std::exp(nll_base_ / n);
  s.ppl_quant = std::exp(nll_quant_ / n);
  return s;
}

}  // namespace dseek
