// The input of DeepSeek-V3's multi-token-prediction module (V3 report §2.2):
// x_i = eh_proj [enorm(Emb(next_i)) ; hnorm(h_i)], joining the embedding of the
// token after position i with the hidden state at i. The module's decoder
// layer and head are the architecture's own. DeepSeek-V4's variant keeps its
// hc_mult residual streams (docs/design/deepseek-v4.md §2.7).
#pragma once

#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/step_arena.h"

namespace dseek {

struct MtpInputWeights {
  const float *enorm = nullptr, *hnorm = nullptr;
  kernels::MatrixView eh_proj;  // [E x 2E]
};

// x [n x E] for n = next.size() rows of h [n x E]; `embd` is the token embedding [V x E].
void mtp_input(ThreadPool& pool, const MtpInputWeights& w, const kernels::MatrixView& embd, const float* h,
               std::span<const int32_t> next, int64_t n_embd, float eps, float* x, StepArena& arena);

// DeepSeek-V4: x_{i,k} = e_proj enorm(Emb(next_i)) + h_proj hnorm(h_{i,k}) for
// each of the n_streams streams k of h [n x n_streams*E] (the trunk's streams
// before the head collapse); x has the same shape.
struct MtpStreamInputWeights {
  const float *enorm = nullptr, *hnorm = nullptr;
  kernels::MatrixView e_proj, h_proj;  // [E x E] each
};
void mtp_stream_input(ThreadPool& pool, const MtpStreamInputWeights& w, const kernels::MatrixView& embd, const float* h,
                      std::span<const int32_t> next, int64_t n_streams, int64_t n_embd, float eps, float* x,
                      StepArena& arena);

}  // namespace dseek
