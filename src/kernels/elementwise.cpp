// Entry points of the element-wise kernels: RMSNorm and RoPE (one scalar
// implementation each), softmax and the SiLU-gated product (the active
// backend's vector exp where there is one, else the scalar references).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  static const ExpShiftFn fast_exp = backend().elementwise.exp_shift;
  const float mx = *std::max_element(x, x + n);
  if (fast_exp) fast_exp(x, mx, n);
  else exp_shift_ref(x, mx, n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  static const SiluMulFn fast = backend().elementwise.silu_mul;
  if (fast) return fast(gate, up, out, n);
  silu_mul_ref(gate, up, out, n);
}

void rope_adjacent(float* x, int64_t n_dims, const float* cos, const float* sin) {
  for (int64_t i = 0; i < n_dims / 2; ++i) {
    const float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cos[i] - b * sin[i];
    x[2 * i + 1] = a * sin[i] + b * cos[i];
  }
}

void rope_half_split(float* x, int64_t n_dims, const float* cos, const float* sin) {
  const int64_t h = n_dims / 2;
  for (int64_t i = 0; i < h; ++i) {
    const float a = x[i], b = x[i + h];
    x[i] = a * cos[i] - b * sin[i];
    x[i + h] = a * sin[i] + b * cos[i];
  }
}

}  // namespace dseek::kernels
