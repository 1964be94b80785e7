// Entry points of the int8-activation path (matmul_q8, quantize_activations)
// and the int8 peak probe: the active backend's int8 table, else the scalar
// references (kernels/ref/int8_matmul.cpp has the canonical order).
#include "kernels/cpu/dispatch.h"
#include "kernels/int8_decode/decoded_row.h"
#include "kernels/kernels.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {

bool uses_int8_path(const MatrixView& w) {
  return !w.block_scale && (w.dtype == DType::kQ8_0 || w.dtype == DType::kQ4_K || w.dtype == DType::kQ6_K ||
                            decoded_format(w.dtype) != nullptr);
}

void quantize_activations(const float* x, int64_t x_stride, QuantizedActs& out, int64_t t_begin, int64_t t_end) {
  if (const QuantizeActsFn fn = backend().int8.quantize) return fn(x, x_stride, out, t_begin, t_end);
  quantize_activations_ref(x, x_stride, out, t_begin, t_end);
}

void matmul_q8(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
               int64_t row_end) {
  if (const Int8MatmulFn fn = backend().int8.matmul[w.dtype]) return fn(w, x, y, y_stride, row_begin, row_end);
  matmul_q8_ref(w, x, y, y_stride, row_begin, row_end);
}

double int8_peak_probe(int64_t iters) {
  const PeakProbeFn probe = backend().int8.peak_probe;
  return probe && iters > 0 ? probe(iters) : 0.0;
}

}  // namespace dseek::kernels
