// Linear layers and the SwiGLU MLP over a batch of T token vectors, with the
// weight rows split across the thread pool (each output row is computed by one
// thread in a fixed order, so results do not depend on the thread count).
#pragma once

#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace dseek {

// Y[T x w.rows] = X[T x w.cols] * W^T (row strides = the matrix dims).
void linear(ThreadPool& pool, const kernels::MatrixView& w, const float* x, int64_t n_tok, float* y);

struct MlpWeights {
  kernels::MatrixView gate, up, down;  // [F x E], [F x E], [E x F]
};

// Y[T x E] = down(silu(gate X) * up X). `scratch` is resized as needed.
void swiglu_mlp(ThreadPool& pool, const MlpWeights& w, const float* x, int64_t n_tok, float* y,
                std::vector<float>& scratch);

// RMSNorm of each of n_tok rows of width n.
void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_tok, int64_t n, float eps);

}  // namespace dseek
