// Manifold-constrained hyper-connections (mHC, DeepSeek-V4): the residual is
// n = hc_mult parallel streams [n x E] per token. Around each sub-block (the
// attention, the FFN) the streams' RMS-normalised concatenation is projected
// to n "pre" weights (which streams feed the sub-block), n "post" weights (how
// much of its output each stream gets) and an n x n mixing matrix made doubly
// stochastic by Sinkhorn-Knopp. Equations and their exact order:
// docs/design/deepseek-v4.md §2.2.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/step_arena.h"

namespace dseek {

struct MhcConfig {
  int64_t n = 4, n_embd = 0, sinkhorn_iters = 20;
  float hc_eps = 1e-6f, rms_eps = 1e-6f;
};

// One connection's weights: fn [rows x n*E] (rows: (2+n)*n around a
// sub-block, n for the final head), base [rows], scale [3] (pre, post, comb;
// the head's has one).
struct MhcWeights {
  kernels::MatrixView fn;
  const float* base = nullptr;
  const float* scale = nullptr;
};

// Row-wise softmax of the n x n logits, then + eps, then one column
// normalisation, then (iters - 1) row-then-column normalisations, each
// dividing by (sum + eps): DeepSeek's order (20 iterations = 1 + 19 pairs).
void mhc_sinkhorn(float* c, int64_t n, int64_t iters, float eps);

// Before a sub-block: streams x [T x n*E] -> its input y [T x E] = sum_j pre_j X_j,
// and per token the post weights [T x n] and the mixing matrix comb [T x n x n].
void mhc_pre(ThreadPool& pool, const MhcConfig& c, const MhcWeights& w, const float* x, int64_t n_tok, float* y,
             float* post, float* comb, StepArena& arena);

// After it: X'_k = post_k * f + sum_j comb[j][k] * X_j, in place over x [T x n*E]
// (f: the sub-block's output [T x E]).
void mhc_post(const MhcConfig& c, float* x, const float* f, const float* post, const float* comb, int64_t n_tok,
              StepArena& arena);

// The final collapse before the output norm: y [T x E] = sum_j (sigmoid(mix_j s + b_j) + eps) X_j.
// y may be x itself (rows packed towards the front).
void mhc_head(ThreadPool& pool, const MhcConfig& c, const MhcWeights& w, float* x, int64_t n_tok, float* y,
              StepArena& arena);

}  // namespace dseek
