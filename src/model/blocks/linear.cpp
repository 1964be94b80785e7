// See linear.h.
#include "model/blocks/linear.h"

namespace dseek {

void linear(ThreadPool& pool, const kernels::MatrixView& w, const float* x, int64_t n_tok, float* y) {
  pool.parallel_for(
      w.rows, [&](int64_t r0, int64_t r1) { kernels::matmul(w, x, w.cols, n_tok, y, w.rows, r0, r1); }, 16);
}

void swiglu_mlp(ThreadPool& pool, const MlpWeights& w, const float* x, int64_t n_tok, float* y,
                std::vector<float>& scratch) {
  const int64_t F = w.gate.rows;
  scratch.resize(static_cast<size_t>(2 * n_tok * F));
  float* g = scratch.data();
  float* u = g + n_tok * F;
  linear(pool, w.gate, x, n_tok, g);
  linear(pool, w.up, x, n_tok, u);
  kernels::silu_mul(g, u, g, n_tok * F);
  linear(pool, w.down, g, n_tok, y);
}

void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_tok, int64_t n, float eps) {
  for (int64_t t = 0; t < n_tok; ++t) kernels::rms_norm(x + t * n, weight, y + t * n, n, eps);
}

}  // namespace dseek
