// Scalar references of the f32 vector kernels: dot, axpy, the weighted sum of
// rows, and the bandwidth probe's sum.
#include <algorithm>
#include <cmath>

#include "kernels/ref/reference.h"

namespace dseek::kernels {

float dot_ref(const float* a, const float* b, int64_t n) {
  // Eight partial sums in a fixed pattern: vectorisable and order-deterministic.
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  float tail = 0.0f;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

void axpy_ref(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

void weighted_sum_rows_ref(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim,
                           float* out) {
  for (int64_t h = 0; h < n_out; ++h) {
    float* o = out + h * dim;
    std::fill(o, o + dim, 0.0f);
    for (int64_t s = 0; s < n_rows; ++s) axpy_ref(p[s * n_out + h], rows[s], o, dim);
  }
}

double stream_sum_ref(const double* a, int64_t n) {
  double s[4] = {};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] += a[i + k];
  for (; i < n; ++i) s[0] += a[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace dseek::kernels
