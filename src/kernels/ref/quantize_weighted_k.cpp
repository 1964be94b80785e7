// Importance-weighted q2_K and q3_K writers (`quantize --imatrix`): each
// 16-value sub-block's scale (and q2_K's offset) is chosen to minimise
// sum_i imp[i] * (x[i] - dequantised[i])^2 instead of covering the extremes.
// The search: trial scales around the range-covering one, each refitted by
// weighted least squares to the levels it picks; the lowest weighted error
// wins. The chosen scales then go through the plain writers' packing
// (pack_q2_k / pack_q3_k), which quantises them to the block's 4- / 6-bit scales.
#include <algorithm>
#include <cmath>

#include "core/quant/blocks.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

constexpr int kSub = 16;  // values per sub-block

int clamp_round(float v, int lo, int hi) { return std::clamp(static_cast<int>(std::lround(v)), lo, hi); }

// q3_K: x ~ s * q, q in -4..3.
double q3_error(const float* x, const float* imp, float s) {
  double e = 0;
  for (int j = 0; j < kSub; ++j) {
    const double r = x[j] - static_cast<double>(s) * (s != 0 ? clamp_round(x[j] / s, -4, 3) : 0);
    e += imp[j] * r * r;
  }
  return e;
}

float q3_scale_weighted(const float* x, const float* imp) {
  float vmax = 0;
  for (int j = 0; j < kSub; ++j)
    if (std::fabs(x[j]) > std::fabs(vmax)) vmax = x[j];
  if (vmax == 0) return 0.0f;
  float best = vmax / -4.0f;
  double best_err = q3_error(x, imp, best);
  for (int k = -8; k <= 8; ++k) {
    const float trial = vmax / (-4.0f * (1.0f + 0.04f * static_cast<float>(k)));
    double xq = 0, qq = 0;
    for (int j = 0; j < kSub; ++j) {
      const double q = clamp_round(x[j] / trial, -4, 3);
      xq += imp[j] * static_cast<double>(x[j]) * q;
      qq += imp[j] * q * q;
    }
    const float refit = qq > 0 ? static_cast<float>(xq / qq) : trial;
    for (float s : {trial, refit})
      if (const double e = q3_error(x, imp, s); e < best_err) best = s, best_err = e;
  }
  return best;
}

// q2_K: x ~ a * q - l, q in 0..3, a >= 0, l >= 0.
struct Affine {
  float a = 0, l = 0;
};

double q2_error(const float* x, const float* imp, Affine f) {
  double e = 0;
  for (int j = 0; j < kSub; ++j) {
    const int q = f.a > 0 ? clamp_round((x[j] + f.l) / f.a, 0, 3) : 0;
    const double r = x[j] - (static_cast<double>(f.a) * q - f.l);
    e += imp[j] * r * r;
  }
  return e;
}

// The weighted least-squares (a, l) for the levels `f` picks, with l kept >= 0.
Affine q2_refit(const float* x, const float* imp, Affine f) {
  double sw = 0, sq = 0, sqq = 0, sx = 0, sxq = 0;
  for (int j = 0; j < kSub; ++j) {
    const double q = f.a > 0 ? clamp_round((x[j] + f.l) / f.a, 0, 3) : 0, w = imp[j];
    sw += w, sq += w * q, sqq += w * q * q, sx += w * x[j], sxq += w * x[j] * q;
  }
  const double det = sw * sqq - sq * sq;
  if (det <= 0 || sqq <= 0) return f;
  double a = (sw * sxq - sq * sx) / det, b = (sqq * sx - sq * sxq) / det;
  if (b > 0) b = 0, a = sxq / sqq;  // the format's offset only lowers
  return a > 0 ? Affine{static_cast<float>(a), static_cast<float>(-b)} : f;
}

Affine q2_fit_weighted(const float* x, const float* imp) {
  const float lo = std::min(0.0f, *std::min_element(x, x + kSub)), hi = *std::max_element(x, x + kSub);
  Affine best{(hi - lo) / 3.0f, -lo};
  if (best.a <= 0) return best;
  double best_err = q2_error(x, imp, best);
  for (int k = -6; k <= 6; ++k) {
    const Affine trial{best.a * (1.0f + 0.05f * static_cast<float>(k)), -lo};
    for (Affine f : {trial, q2_refit(x, imp, trial)})
      if (const double e = q2_error(x, imp, f); e < best_err) best = f, best_err = e;
  }
  return best;
}

}  // namespace

void quant_q2_k_weighted(const float* x, const float* imp, void* dst, int64_t nb) {
  auto* b = static_cast<BlockQ2_K*>(dst);
  for (int64_t i = 0; i < nb; ++i, x += kQK_K, imp += kQK_K) {
    float step[16], low[16];
    for (int j = 0; j < 16; ++j) {
      const Affine f = q2_fit_weighted(x + kSub * j, imp + kSub * j);
      step[j] = f.a, low[j] = f.l;
    }
    pack_q2_k(x, step, low, b[i]);
  }
}

void quant_q3_k_weighted(const float* x, const float* imp, void* dst, int64_t nb) {
  auto* b = static_cast<BlockQ3_K*>(dst);
  for (int64_t i = 0; i < nb; ++i, x += kQK_K, imp += kQK_K) {
    float scale[16];
    for (int j = 0; j < 16; ++j) scale[j] = q3_scale_weighted(x + kSub * j, imp + kSub * j);
    pack_q3_k(x, scale, b[i]);
  }
}

}  // namespace dseek::kernels
