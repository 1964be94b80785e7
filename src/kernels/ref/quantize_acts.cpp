// Activation quantisation for the int8 dot path: blocks of 32 floats to int8
// with d = amax/127 (round to nearest even), plus the side sums the kernels
// fold in (see quantized_acts.h). One scalar routine for every ISA, so the
// activation bits never depend on the machine's ISA or on batch size.
#include <algorithm>
#include <cmath>

#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

void quantize_block(const float* x, int8_t* q, float* d_out, float* dsum_out, int32_t* neg32, int32_t* neg32h,
                    int32_t* neg128) {
  float amax = 0.0f;
  for (int64_t i = 0; i < kActBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
  int32_t sum = 0, half = 0;
  for (int64_t k = 0; k < kActBlock / 4; ++k) {
    int32_t s4 = 0;
    for (int64_t i = 4 * k; i < 4 * k + 4; ++i) {
      // Round to nearest even by the 1.5*2^23 trick (|x*id| <= 127 + an ulp):
      // nearbyint's result without a libm call per value, and vectorisable.
      const float r = (x[i] * id + 0x1.8p23f) - 0x1.8p23f;
      const int32_t v = static_cast<int32_t>(r);
      q[i] = static_cast<int8_t>(std::clamp(v, -127, 127));
      s4 += q[i];
    }
    neg32[k] = -32 * s4;
    sum += s4;
    half += s4;
    if (k % 4 == 3) {
      neg32h[k / 4] = -32 * half;
      half = 0;
    }
  }
  *neg128 = -128 * sum;
  *d_out = d;
  *dsum_out = d * static_cast<float>(sum);
}

}  // namespace

void quantize_activations_ref(const float* x, int64_t x_stride, QuantizedActs& out, int64_t t_begin, int64_t t_end) {
  const int64_t nb = out.blocks();
  for (int64_t t = t_begin; t < t_end; ++t)
    for (int64_t b = 0; b < nb; ++b)
      quantize_block(x + t * x_stride + b * kActBlock, out.qs.data() + t * out.cols + b * kActBlock,
                     out.d.data() + t * nb + b, out.dsum.data() + t * nb + b,
                     out.neg32.data() + t * (out.cols / 4) + b * (kActBlock / 4),
                     out.neg32h.data() + t * (out.cols / 16) + 2 * b, out.neg128.data() + t * nb + b);
}

}  // namespace dseek::kernels
