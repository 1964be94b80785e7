// Scalar reference of the int8-activation matmul for the decoded-row types
// (kernels/int8_decode/decoded_row.h has the canonical order; every ISA's
// kernel gives these bits).
#include <cmath>
#include <cstring>

#include "kernels/int8_decode/decoded_row.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

float r8(const float (&a)[8]) {
  float h[8];
  std::memcpy(h, a, sizeof h);
  for (int w = 4; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) h[i] = h[i] + h[i + w];
  return h[0];
}

float dot_decoded(const DecodedFormat& f, const DecodedRow& w, const QuantizedActs& x, int64_t t) {
  const int8_t* xq = x.qs_of(t);
  const float* dx = x.d_of(t);
  float acc[8] = {}, mins[8] = {};
  for (int64_t b = 0; b < x.blocks(); ++b) {
    int32_t L[2] = {0, 0}, S[2] = {0, 0};
    for (int i = 0; i < 32; ++i) {
      L[i / 16] += int32_t{w.q[32 * b + i]} * xq[32 * b + i];
      S[i / 16] += xq[32 * b + i];
    }
    float& a = acc[b % 8];
    if (f.halves == 1) {
      a = std::fma(static_cast<float>(L[0] + L[1]), w.s0[b] * dx[b], a);
    } else {
      a = std::fma(static_cast<float>(L[0]), w.s0[b] * dx[b], a);
      a = std::fma(static_cast<float>(L[1]), w.s1[b] * dx[b], a);
    }
    if (f.mins) {
      const int32_t M = w.mi[2 * b] * S[0] + w.mi[2 * b + 1] * S[1];
      mins[b % 8] = std::fma(static_cast<float>(M), w.ms[b] * dx[b], mins[b % 8]);
    }
  }
  return f.mins ? r8(acc) - r8(mins) : r8(acc);
}

}  // namespace

void matmul_decoded_ref(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end) {
  const DecodedFormat& f = *decoded_format(w.dtype);
  DecodedRowBuffer buf(x.cols);
  for (int64_t r = row_begin; r < row_end; ++r) {
    f.decode(w.data + static_cast<uint64_t>(r) * w.row_bytes, x.cols, buf.row());
    for (int64_t t = 0; t < x.n_tok; ++t) y[t * y_stride + r] = dot_decoded(f, buf.row(), x, t);
  }
}

}  // namespace dseek::kernels
