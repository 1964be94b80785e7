// Importance-weighted writers (`quantize --imatrix`): the iq4 pair chooses
// each 32-value scale to minimise sum_i imp[i] * (x[i] - d * level[i])^2, the
// error the next layer sees when imp[i] is the mean square of input column i
// (llama.cpp's importance matrix). The search: 21 trial scales around the
// max-magnitude one, each refitted by weighted least squares to the levels it
// picks; the best trial wins. q2_K / q3_K: quantize_weighted_k.cpp. Other
// types fall back to the plain writers.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/kernels.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

int nearest_level(float v) {
  int best = 0;
  for (int k = 1; k < 16; ++k)
    if (std::fabs(v - kIq4nlValues[k]) < std::fabs(v - kIq4nlValues[best])) best = k;
  return best;
}

// Weighted squared error of 32 values at scale d (levels nearest x/d).
double weighted_error(const float* x, const float* imp, float d) {
  double e = 0;
  for (int j = 0; j < 32; ++j) {
    const double r = x[j] - static_cast<double>(d) * kIq4nlValues[nearest_level(d != 0 ? x[j] / d : 0.0f)];
    e += imp[j] * r * r;
  }
  return e;
}

// The weighted-error-minimising scale of 32 values on the iq4 levels.
float iq4_scale_weighted(const float* x, const float* imp) {
  float vmax = 0;
  for (int j = 0; j < 32; ++j)
    if (std::fabs(x[j]) > std::fabs(vmax)) vmax = x[j];
  if (vmax == 0) return 0.0f;
  float best = vmax / static_cast<float>(kIq4nlValues[0]);
  double best_err = weighted_error(x, imp, best);
  for (int k = -10; k <= 10; ++k) {
    const float trial = vmax / (static_cast<float>(kIq4nlValues[0]) * (1.0f + 0.02f * static_cast<float>(k)));
    double xv = 0, vv = 0;
    for (int j = 0; j < 32; ++j) {
      const double v = kIq4nlValues[nearest_level(x[j] / trial)];
      xv += imp[j] * static_cast<double>(x[j]) * v;
      vv += imp[j] * v * v;
    }
    const float refit = vv > 0 ? static_cast<float>(xv / vv) : trial;
    for (float d : {trial, refit})
      if (const double e = weighted_error(x, imp, d); e < best_err) best = d, best_err = e;
  }
  return best;
}

void pack_levels(const float* x, float d, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) {
    const int lo = nearest_level(d != 0 ? x[j] / d : 0.0f), hi = nearest_level(d != 0 ? x[j + 16] / d : 0.0f);
    qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

void iq4_nl_weighted(const float* x, const float* imp, void* dst, int64_t nb) {
  auto* b = static_cast<BlockIQ4_NL*>(dst);
  for (int64_t i = 0; i < nb; ++i, x += kQK4_NL, imp += kQK4_NL) {
    b[i].d = f32_to_f16(iq4_scale_weighted(x, imp));
    pack_levels(x, f16_to_f32(b[i].d), b[i].qs);
  }
}

void iq4_xs_weighted(const float* x, const float* imp, void* dst, int64_t nb) {
  auto* b = static_cast<BlockIQ4_XS*>(dst);
  for (int64_t i = 0; i < nb; ++i, x += kQK_K, imp += kQK_K) {
    float scale[8], smax = 0;
    for (int j = 0; j < 8; ++j) {
      scale[j] = iq4_scale_weighted(x + 32 * j, imp + 32 * j);
      if (std::fabs(scale[j]) > std::fabs(smax)) smax = scale[j];
    }
    b[i].d = f32_to_f16(smax / -32.0f);  // ls - 32 spans [-32, 31]: the largest maps to -32
    const float d = f16_to_f32(b[i].d);
    b[i].scales_h = 0;
    std::memset(b[i].scales_l, 0, sizeof b[i].scales_l);
    for (int j = 0; j < 8; ++j) {
      const int ls = d != 0 ? std::clamp(static_cast<int>(std::lround(scale[j] / d)), -32, 31) + 32 : 32;
      b[i].scales_l[j / 2] |= static_cast<uint8_t>((ls & 0xF) << (4 * (j % 2)));
      b[i].scales_h = static_cast<uint16_t>(b[i].scales_h | ((ls >> 4) << (2 * j)));
      pack_levels(x + 32 * j, d * static_cast<float>(ls - 32), b[i].qs + 16 * j);
    }
  }
}

}  // namespace

bool has_weighted_writer(DType t) {
  return t == DType::kIQ4_NL || t == DType::kIQ4_XS || t == DType::kQ2_K || t == DType::kQ3_K;
}

void quantize_row_weighted(DType t, const float* src, const float* importance, void* dst, int64_t n) {
  if (!importance || !has_weighted_writer(t)) return quantize_row(t, src, dst, n);
  const int64_t nb = n / dtype_traits(t).block_size;
  if (t == DType::kIQ4_NL) return iq4_nl_weighted(src, importance, dst, nb);
  if (t == DType::kQ2_K) return quant_q2_k_weighted(src, importance, dst, nb);
  if (t == DType::kQ3_K) return quant_q3_k_weighted(src, importance, dst, nb);
  iq4_xs_weighted(src, importance, dst, nb);
}

}  // namespace dseek::kernels
