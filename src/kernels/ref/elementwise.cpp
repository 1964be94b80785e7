// Scalar references of the element-wise activation kernels (std::exp).
#include <cmath>

#include "kernels/ref/reference.h"

namespace dseek::kernels {

void silu_mul_ref(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void exp_shift_ref(float* x, float shift, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - shift);
}

}  // namespace dseek::kernels
