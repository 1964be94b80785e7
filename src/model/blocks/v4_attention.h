// DeepSeek-V4's attention (docs/design/deepseek-v4.md §2.3): a low-rank query
// with a per-head (unweighted) RMSNorm, one shared latent head whose keys are
// also its values (K = V, head_dim wide), RoPE on the last d_rope channels in
// interleaved pairs, a sliding window of the last `window` positions, a
// per-head attention sink in the softmax denominator, the inverse RoPE on the
// output, and a grouped low-rank output projection.
//
// The cache row per token and layer is the normalised, rotated key [head_dim]
// (f32). Compressed layers (CSA / HCA) attend to compressed entries as well;
// their block plugs in through V4ExtraKeySource (v4_compressed_attention.h).
#pragma once

#include <span>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/blocks/rope.h"
#include "model/kv_cache.h"
#include "model/step_arena.h"

namespace dseek {

struct V4AttnDims {
  int64_t n_embd = 0, n_head = 0, head_dim = 0, d_rope = 0, q_lora_rank = 0;
  int64_t o_groups = 1, o_lora_rank = 0, window = 128;
  float eps = 1e-6f;
  float softmax_scale = 1.0f;  // head_dim^-1/2 exactly (no YaRN temperature in V4)
};

struct V4AttnWeights {
  kernels::MatrixView q_a, q_b;    // [Cq x E], [H*d x Cq]
  const float* q_norm = nullptr;   // [Cq]
  kernels::MatrixView kv;          // [d x E]
  const float* kv_norm = nullptr;  // [d]
  const float* sinks = nullptr;    // [H]
  kernels::MatrixView o_a;         // [G*o_lora x H*d/G]: group g's rows g*o_lora..
  kernels::MatrixView o_b;         // [E x G*o_lora]
};

// Keys a query sees besides its window (compressed entries), for one row of
// one sequence: `n` rows of head_dim floats. The sliding-only layers have none.
struct V4ExtraKeys {
  const float* const* rows = nullptr;
  int64_t n = 0;
};
// Where a compressed layer's extra keys come from (v4_compressed_attention.h).
// prepare() runs once per step after the projections, with the step's q_norm'd
// query latent [T x q_lora_rank] (the CSA indexer scores with it); keys() then
// answers per sequence (index into seqs) and row of that sequence.
class V4ExtraKeySource {
 public:
  virtual void prepare(const float* q_lora, StepArena& arena) = 0;
  virtual V4ExtraKeys keys(int64_t seq, int64_t row) const = 0;

 protected:
  ~V4ExtraKeySource() = default;
};

// xn [T x E] (attention-normed) -> out [T x E]; writes each token's cache row
// for `layer`. `rope` is the layer's table (main or compressed base).
void v4_attention_forward(ThreadPool& pool, const V4AttnDims& d, const V4AttnWeights& w, const RopeTable& rope,
                          const float* xn, std::span<const CacheSpan> seqs, int64_t layer, float* out,
                          StepArena& arena, V4ExtraKeySource* extra = nullptr);

}  // namespace dseek
