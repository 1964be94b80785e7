// See linear.h.
#include "model/blocks/linear.h"

#include <algorithm>

namespace dseek {

void linear(ThreadPool& pool, const kernels::MatrixView& w, const float* x, int64_t n_tok, float* y) {
  pool.parallel_for(
      w.rows, [&](int64_t r0, int64_t r1) { kernels::matmul(w, x, w.cols, n_tok, y, w.rows, r0, r1); }, 16);
}

void linear_many(ThreadPool& pool, std::span<const LinearJob> jobs) {
  std::vector<int64_t> start(jobs.size() + 1, 0);  // prefix sums of rows
  for (size_t j = 0; j < jobs.size(); ++j) start[j + 1] = start[j] + jobs[j].w->rows;
  pool.parallel_for(
      start.back(),
      [&](int64_t r0, int64_t r1) {
        for (size_t j = 0; j < jobs.size(); ++j) {
          const int64_t b = std::max(r0, start[j]), e = std::min(r1, start[j + 1]);
          if (b >= e) continue;
          const LinearJob& job = jobs[j];
          kernels::matmul(*job.w, job.x, job.w->cols, job.n_tok, job.y, job.w->rows, b - start[j], e - start[j]);
        }
      },
      16);
}

void swiglu_mlp(ThreadPool& pool, const MlpWeights& w, const float* x, int64_t n_tok, float* y,
                std::vector<float>& scratch) {
  const MlpWeights* ws[] = {&w};
  const float* xs[] = {x};
  const int64_t ns[] = {n_tok};
  float* ys[] = {y};
  swiglu_mlp_many(pool, ws, xs, ns, ys, scratch);
}

void swiglu_mlp_many(ThreadPool& pool, std::span<const MlpWeights* const> w, std::span<const float* const> xs,
                     std::span<const int64_t> n, std::span<float* const> ys, std::vector<float>& scratch) {
  std::vector<size_t> off(w.size() + 1, 0);  // each expert's [gate | up] block in scratch
  for (size_t e = 0; e < w.size(); ++e) off[e + 1] = off[e] + static_cast<size_t>(2 * n[e] * w[e]->gate.rows);
  scratch.resize(off.back());
  std::vector<LinearJob> jobs;
  for (size_t e = 0; e < w.size(); ++e) {
    float* g = scratch.data() + off[e];
    jobs.push_back({&w[e]->gate, xs[e], n[e], g});
    jobs.push_back({&w[e]->up, xs[e], n[e], g + n[e] * w[e]->gate.rows});
  }
  linear_many(pool, jobs);
  jobs.clear();
  for (size_t e = 0; e < w.size(); ++e) {
    float* g = scratch.data() + off[e];
    const int64_t nf = n[e] * w[e]->gate.rows;
    kernels::silu_mul(g, g + nf, g, nf);
    jobs.push_back({&w[e]->down, g, n[e], ys[e]});
  }
  linear_many(pool, jobs);
}

void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_tok, int64_t n, float eps) {
  for (int64_t t = 0; t < n_tok; ++t) kernels::rms_norm(x + t * n, weight, y + t * n, n, eps);
}

}  // namespace dseek
