// Linear layers and the SwiGLU MLP over a batch of T token vectors, with the
// weight rows split across the thread pool (each output row is computed by one
// thread in a fixed order, so results do not depend on the thread count).
#pragma once

#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/step_arena.h"

namespace dseek {

// Sees the input of every linear_many job before its product, on the calling
// thread (ForwardOptions::observer, carried by the step's arena): the weight
// view (w.data identifies the tensor, and within a 3-D expert tensor the
// expert) and x [n_tok x w.cols]. A routed expert is seen with only the rows
// routed to it. Matrices the attention kernels read directly (MLA's W_UK /
// W_UV) are not linear jobs and are not seen.
class LinearObserver {
 public:
  virtual ~LinearObserver() = default;
  virtual void observe(const kernels::MatrixView& w, const float* x, int64_t n_tok) = 0;
};

// Y[T x w.rows] = X[T x w.cols] * W^T (row strides = the matrix dims).
// q8_0 / q4_K / q6_K weights take the int8-activation path: X is quantised
// to int8 blocks of 32 once per call (kernels::matmul_q8), f32/f16/bf16/FP8
// weights keep f32 activations. Either way a row's value does not depend
// on T or on the thread count.
// Scratch (the int8 activations included) comes from `arena`; the overload
// without one makes its own (benchmarks, one-off calls).
void linear(ThreadPool& pool, const kernels::MatrixView& w, const float* x, int64_t n_tok, float* y, StepArena& arena);
void linear(ThreadPool& pool, const kernels::MatrixView& w, const float* x, int64_t n_tok, float* y);

// Several independent linears in one parallel pass (one thread sync instead
// of one per matrix): rows of all jobs are split across threads together.
struct LinearJob {
  const kernels::MatrixView* w;
  const float* x;  // [n_tok x w->cols]
  int64_t n_tok;
  float* y;        // [n_tok x w->rows]
};
void linear_many(ThreadPool& pool, std::span<const LinearJob> jobs, StepArena& arena);

struct MlpWeights {
  kernels::MatrixView gate, up, down;  // [F x E], [F x E], [E x F]
};

// Y[T x E] = down(silu(gate X) * up X); the hidden activations come from `arena`.
// clamp_limit L > 0 is DeepSeek-V4's clamped SwiGLU: gate <= L (upper bound only)
// and -L <= up <= L before the product; 0 = no clamp.
void swiglu_mlp(ThreadPool& pool, const MlpWeights& w, const float* x, int64_t n_tok, float* y, StepArena& arena,
                float clamp_limit = 0.0f);

// SwiGLU MLPs of several experts, each over its own tokens, in two parallel
// passes (all gate/up rows, then all down rows). xs[e] [n[e] x E] -> ys[e] [n[e] x E].
void swiglu_mlp_many(ThreadPool& pool, std::span<const MlpWeights* const> w, std::span<const float* const> xs,
                     std::span<const int64_t> n, std::span<float* const> ys, StepArena& arena,
                     float clamp_limit = 0.0f);

// RMSNorm of each of n_tok rows of width n.
void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_tok, int64_t n, float eps);

}  // namespace dseek
