// Entry points of the f32 vector kernels (attention's dots and weighted sums,
// the bandwidth probe's sum): the active backend's function, looked up once,
// else the scalar reference.
#include "kernels/cpu/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {

float dot(const float* a, const float* b, int64_t n) {
  // The ISA's f32 row dot (a fixed order per machine, like every kernel here);
  // attention's q.k products run through this, per (query, key) pair.
  static const DotRowFn fast = backend().rows.dot[DType::kF32];
  if (fast) return fast(reinterpret_cast<const std::byte*>(a), b, n);
  return dot_ref(a, b, n);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  static const AxpyFn fast = backend().rows.axpy;
  if (fast) return fast(a, x, y, n);
  axpy_ref(a, x, y, n);
}

void dot_many(const float* const* a, int64_t n_a, const float* const* b, int64_t n_b, int64_t n, float* out) {
  static const DotManyFn many = backend().rows.f32_many;
  if (many) return many(a, n_a, b, n_b, n, out);
  for (int64_t i = 0; i < n_a; ++i)
    for (int64_t j = 0; j < n_b; ++j) out[i * n_b + j] = dot(a[i], b[j], n);
}

void weighted_sum_rows(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim, float* out) {
  static const WeightedRowsFn fast = backend().rows.weighted_rows;
  if (fast) return fast(p, n_rows, n_out, rows, dim, out);
  weighted_sum_rows_ref(p, n_rows, n_out, rows, dim, out);
}

double stream_sum(const double* a, int64_t n) {
  static const StreamSumFn fast = backend().rows.stream_sum;
  if (fast) return fast(a, n);
  return stream_sum_ref(a, n);
}

}  // namespace dseek::kernels
