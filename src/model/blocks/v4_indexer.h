// DeepSeek-V4's lightning indexer (CSA layers; docs/design/deepseek-v4.md §2.5,
// DeepSeek's inference/model.py class Indexer): of the compressed entries a
// query may see, it picks the top index_topk for attention.
//   keys K_w: the indexer's own compressor (ratio 4, overlapping windows, d_I
//     wide, RMSNorm, RoPE on the trailing d_rope at w·4, Hadamard) — V4CompressedKv
//   q_h = Hadamard(rope_t(wq_b · q_lora)_h)     (q_lora: attention's q_norm'd latent)
//   ω_h = weights_proj(x)_h · d_I^-½ · H^-½
//   score(t, w) = Σ_h ω_h · ReLU(q_h · K_w),  w < ⌊(t+1)/4⌋ (visible entries only)
//   selected(t) = top min(index_topk, visible) entries; all visible when that is <= topk
// What is V3.2's (dsa_indexer.*): the ReLU-weighted multi-head score, q from the
// shared latent, weights_proj on x, the Hadamard, kernels::top_k_positions (ties:
// the earlier entry). What differs: keys are pooled compressed entries (one per
// 4 tokens) made by a compressor, not per-token LayerNorm(wk x); the norm is an
// RMSNorm; RoPE is adjacent pairs on the trailing dims with the layer's compressed
// table (V3.2: half-split on the leading dims); only visible entries are scored.
// Not simulated: DeepSeek's FP4 fake-quantisation of q and K (QAT; V3.2's FP8
// key records play that part there), so keys stay f32 and kernels::dsa_index_scores
// (FP8 records) is not used; scores are f32 dots in a fixed order instead.
#pragma once

#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/blocks/rope.h"
#include "model/blocks/v4_compressor.h"
#include "model/step_arena.h"

namespace dseek {

struct V4IndexerWeights {
  int64_t n_head = 0, head_dim = 0, d_rope = 0, topk = 0;
  kernels::MatrixView wq_b;       // [n_head·head_dim x q_lora]
  kernels::MatrixView proj;       // weights_proj [n_head x E]
  V4CompressorWeights keys;       // ratio 4, overlap, dim head_dim, hadamard
};

// The entries each row of a step attends to. count[t] < 0: every visible entry
// (w < v4_visible_entries(pos, 4)); otherwise entries + t·topk holds count[t]
// entry ids, ascending.
struct V4Selection {
  const int64_t* count = nullptr;
  const int32_t* entries = nullptr;
  int64_t topk = 0;
  bool dense(int64_t t) const { return count == nullptr || count[t] < 0; }
  std::span<const int32_t> of(int64_t t) const { return {entries + t * topk, static_cast<size_t>(count[t])}; }
};

// One sequence's rows of the step: rows [first, first + n_tok) at positions
// keys->n_tokens() onwards (before this step's keys are absorbed).
struct V4IndexSpan {
  V4CompressedKv* keys = nullptr;
  int64_t first = 0, n_tok = 0;
};

// Absorbs the step's tokens into each sequence's index keys, then selects each
// row's entries. xn: the layer's normalised input [T x E]; q_lora [T x Cq]. The
// selection lives in `arena` at the caller's scope.
V4Selection v4_index(ThreadPool& pool, const V4IndexerWeights& w, const RopeTable& rope, const float* xn,
                     const float* q_lora, std::span<const V4IndexSpan> seqs, StepArena& arena);

}  // namespace dseek
