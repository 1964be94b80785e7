// The input of DeepSeek-V3's multi-token-prediction module (V3 report §2.2):
// x_i = eh_proj [enorm(Emb(next_i)) ; hnorm(h_i)], joining the embedding of the
// token after position i with the hidden state at i. The module's decoder
// layer and head are the architecture's own.
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

}  // namespace dseek
