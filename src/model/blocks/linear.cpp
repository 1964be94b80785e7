// See linear.h.
#include "model/blocks/linear.h"

#include <algorithm>

#include "model/lora_adapter.h"

namespace dseek {

namespace {

// Below this many token rows in a call, quantising on the calling thread is
// cheaper than waking the pool for it (one row of 2048 values is ~1-2 us).
constexpr int64_t kParallelQuantRows = 16;

// The activations each int8-path job reads, quantised once per call before
// the rows are split over threads; jobs that share an input share one copy.
// All arrays come from the arena.
struct JobActs {
  std::span<kernels::QuantizedActs> acts;
  int* of_job = nullptr;  // index into acts, or -1 (f32 path)
};

JobActs quantize_inputs(ThreadPool& pool, std::span<const LinearJob> jobs, StepArena& arena) {
  JobActs ja;
  ja.of_job = arena.take<int>(static_cast<int64_t>(jobs.size()));
  const LinearJob** src = arena.take<const LinearJob*>(static_cast<int64_t>(jobs.size()));  // the job whose x each acts entry holds
  int64_t* first_row = arena.take<int64_t>(static_cast<int64_t>(jobs.size()) + 1);        // prefix sums of token rows over acts
  size_t n_src = 0;
  first_row[0] = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const LinearJob& job = jobs[j];
    ja.of_job[j] = -1;
    if (!kernels::uses_int8_path(*job.w) || job.n_tok == 0) continue;
    for (size_t a = 0; a < n_src && ja.of_job[j] < 0; ++a)
      if (src[a]->x == job.x && src[a]->n_tok == job.n_tok && src[a]->w->cols == job.w->cols) ja.of_job[j] = static_cast<int>(a);
    if (ja.of_job[j] >= 0) continue;
    ja.of_job[j] = static_cast<int>(n_src);
    src[n_src] = &job;
    first_row[n_src + 1] = first_row[n_src] + job.n_tok;
    ++n_src;
  }
  ja.acts = arena.int8_acts(n_src);
  for (size_t a = 0; a < n_src; ++a) ja.acts[a].resize(src[a]->n_tok, src[a]->w->cols);
  auto fill = [&](int64_t r0, int64_t r1) {
    for (size_t a = 0; a < n_src; ++a) {
      const int64_t b = std::max(r0, first_row[a]), e = std::min(r1, first_row[a + 1]);
      if (b < e) kernels::quantize_activations(src[a]->x, src[a]->w->cols, ja.acts[a], b - first_row[a], e - first_row[a]);
    }
  };
  if (first_row[n_src] < kParallelQuantRows) fill(0, first_row[n_src]);
  else pool.parallel_for(first_row[n_src], fill, kParallelQuantRows / 2);
  return ja;
}

}  // namespace

void linear(ThreadPool& pool, const kernels::MatrixView& w, const float* x, int64_t n_tok, float* y, StepArena& arena) {
  const LinearJob job{&w, x, n_tok, y};
  linear_many(pool, std::span<const LinearJob>(&job, 1), arena);
}

void linear(ThreadPool& pool, const kernels::MatrixView& w, const float* x, int64_t n_tok, float* y) {
  StepArena arena;
  linear(pool, w, x, n_tok, y, arena);
}

void linear_many(ThreadPool& pool, std::span<const LinearJob> jobs, StepArena& arena) {
  const StepArena::Scope scope(arena);
  if (LinearObserver* o = arena.linear_observer())
    for (const LinearJob& job : jobs)
      if (job.n_tok > 0) o->observe(*job.w, job.x, job.n_tok);
  const JobActs ja = quantize_inputs(pool, jobs, arena);
  int64_t* start = arena.take<int64_t>(static_cast<int64_t>(jobs.size()) + 1);  // prefix sums of rows
  start[0] = 0;
  for (size_t j = 0; j < jobs.size(); ++j) start[j + 1] = start[j] + jobs[j].w->rows;
  pool.parallel_for(
      start[jobs.size()],
      [&](int64_t r0, int64_t r1) {
        for (size_t j = 0; j < jobs.size(); ++j) {
          const int64_t b = std::max(r0, start[j]), e = std::min(r1, start[j + 1]);
          if (b >= e) continue;
          const LinearJob& job = jobs[j];
          if (ja.of_job[j] >= 0)
            kernels::matmul_q8(*job.w, ja.acts[static_cast<size_t>(ja.of_job[j])], job.y, job.w->rows, b - start[j],
                               e - start[j]);
          else
            kernels::matmul(*job.w, job.x, job.w->cols, job.n_tok, job.y, job.w->rows, b - start[j], e - start[j]);
        }
      },
      16);
  // LoRA adapters given at run time (--lora): y += scale * alpha/r * B (A x), after the base product.
  for (const LinearJob& job : jobs)
    if (job.w->lora && job.n_tok > 0) apply_lora(*job.w->lora, job.x, job.n_tok, job.y);
}

void swiglu_mlp(ThreadPool& pool, const MlpWeights& w, const float* x, int64_t n_tok, float* y, StepArena& arena,
                float clamp_limit) {
  const MlpWeights* ws[] = {&w};
  const float* xs[] = {x};
  const int64_t ns[] = {n_tok};
  float* ys[] = {y};
  swiglu_mlp_many(pool, ws, xs, ns, ys, arena, clamp_limit);
}

void swiglu_mlp_many(ThreadPool& pool, std::span<const MlpWeights* const> w, std::span<const float* const> xs,
                     std::span<const int64_t> n, std::span<float* const> ys, StepArena& arena, float clamp_limit) {
  const StepArena::Scope scope(arena);
  const size_t n_mlp = w.size();
  float** gate_up = arena.take<float*>(static_cast<int64_t>(n_mlp));  // each expert's [gate | up] block
  for (size_t e = 0; e < n_mlp; ++e) gate_up[e] = arena.take<float>(2 * n[e] * w[e]->gate.rows);
  LinearJob* jobs = arena.take<LinearJob>(static_cast<int64_t>(2 * n_mlp));
  for (size_t e = 0; e < n_mlp; ++e) {
    float* g = gate_up[e];
    jobs[2 * e] = {&w[e]->gate, xs[e], n[e], g};
    jobs[2 * e + 1] = {&w[e]->up, xs[e], n[e], g + n[e] * w[e]->gate.rows};
  }
  linear_many(pool, std::span<const LinearJob>(jobs, 2 * n_mlp), arena);
  for (size_t e = 0; e < n_mlp; ++e) {
    float* g = gate_up[e];
    const int64_t nf = n[e] * w[e]->gate.rows;
    if (clamp_limit > 0)
      for (int64_t i = 0; i < nf; ++i) {
        g[i] = std::min(g[i], clamp_limit);
        g[nf + i] = std::clamp(g[nf + i], -clamp_limit, clamp_limit);
      }
    kernels::silu_mul(g, g + nf, g, nf);
    jobs[e] = {&w[e]->down, g, n[e], ys[e]};
  }
  linear_many(pool, std::span<const LinearJob>(jobs, n_mlp), arena);
}

void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_tok, int64_t n, float eps) {
  for (int64_t t = 0; t < n_tok; ++t) kernels::rms_norm(x + t * n, weight, y + t * n, n, eps);
}

}  // namespace dseek
