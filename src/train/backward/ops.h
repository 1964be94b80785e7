// Forward and backward of the elementwise and matrix operations the DeepSeek
// forward uses, for training. Templated on the scalar: float for training,
// double for the finite-difference gradient checks in tests/train. Backward
// functions ACCUMULATE into gradient buffers (+=), so a parameter shared by
// several uses (the embedding, the output head under MTP) sums its gradients.
// Not the inference kernels: these favour clarity and saved state over speed,
// except linear, which is where training spends its time.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace dseek::train {

// y[n x out] = x[n x in] * w[out x in]^T. bf16 (float only): the product's
// inputs are rounded to bfloat16 first, accumulation stays f32 (mixed precision).
template <typename T>
void linear_fwd(ThreadPool& pool, const T* x, int64_t n, int64_t in, const T* w, int64_t out, T* y, bool bf16 = false);
// dx[n x in] += dy * w (skipped when dx is null); dw[out x in] += dy^T * x. bf16:
// x and dy are rounded to bfloat16 as in the forward.
template <typename T>
void linear_bwd(ThreadPool& pool, const T* x, int64_t n, int64_t in, const T* w, int64_t out, const T* dy, T* dx,
                T* dw, bool bf16 = false);

// Rounds every value to the nearest bfloat16 (round to nearest even), in place.
void round_to_bf16(float* x, int64_t n);

// Each of n rows of width d: y = x / sqrt(mean(x^2) + eps) * w. inv_rms[n] is saved for backward.
template <typename T>
void rms_norm_fwd(const T* x, const T* w, int64_t n, int64_t d, double eps, T* y, T* inv_rms);
template <typename T>
void rms_norm_bwd(const T* x, const T* w, const T* inv_rms, const T* dy, int64_t n, int64_t d, T* dx, T* dw);

// Rotary embedding on adjacent pairs (x[2i], x[2i+1]) of n_dims values at
// position-dependent angles: cos/sin[n_dims/2] for this row. In place.
template <typename T>
void rope_fwd(T* x, int64_t n_dims, const float* cos, const float* sin);
// The inverse rotation applied to a gradient (rotation is orthogonal). In place.
template <typename T>
void rope_bwd(T* dx, int64_t n_dims, const float* cos, const float* sin);

// out = silu(g) * u elementwise, and its backward (dg, du += ...).
template <typename T>
void silu_mul_fwd(const T* g, const T* u, int64_t n, T* out);
template <typename T>
void silu_mul_bwd(const T* g, const T* u, const T* dout, int64_t n, T* dg, T* du);

// Mean cross-entropy over the rows whose target is >= 0: returns the summed
// loss and the count; writes dlogits = weight * (softmax - onehot) / count_norm
// for those rows (0 elsewhere). logits [n x v].
template <typename T>
double cross_entropy(const T* logits, const int32_t* targets, int64_t n, int64_t v, double weight, double count_norm,
                     T* dlogits, int64_t* counted);

// Policy-gradient form: returns sum_r w_r * -log softmax(logits_r)[target_r]
// over rows with target >= 0 and writes dlogits = w_r * (softmax - onehot)
// (0 for other rows). Weights may be negative (GRPO advantages).
template <typename T>
double weighted_nll(const T* logits, const int32_t* targets, const float* weights, int64_t n, int64_t v, T* dlogits);

// Logit distillation over n rows: returns the summed tau^2 * KL(softmax(t/tau)
// || softmax(s/tau)); ADDS weight * tau * (p_s - p_t) / count_norm to dlogits.
template <typename T>
double distill_kl(const T* logits, const float* teacher, int64_t n, int64_t v, double tau, double weight,
                  double count_norm, T* dlogits);

}  // namespace dseek::train
