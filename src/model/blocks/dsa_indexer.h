// DeepSeek Sparse Attention (DeepSeek-V3.2): the lightning indexer of one
// layer. It scores every earlier token of a sequence cheaply and hands MLA the
// top index_topk of them; MLA then attends to those keys only (all of them
// while a query has at most index_topk keys, so short sequences are dense MLA
// exactly). Facts from DeepSeek-V3.2-Exp's inference/model.py (class Indexer)
// and kernel.py, see DEEPSEEK_NOTES.md "V3.2 sparse attention (DSA)":
//   q = wq_b(q_lora) per head [rope | nope]      (q_lora: MLA's normalised compressed query)
//   k = LayerNorm(wk(x)) (weight and bias, eps 1e-6), one head per token, [rope | nope]
//   RoPE on the first d_rope dims of q and k, half-split pairs (x[i], x[i + d_rope/2]),
//     MLA's YaRN frequencies — MLA's own RoPE is adjacent pairs
//   q, k rotated by the Sylvester Hadamard matrix / sqrt(dim), then FP8 E4M3 with one
//     ue8m0 scale per head (per key): one 128-block each, as act_quant(x, 128, "ue8m0")
//   score[t][s] = k_scale[s] · Σ_h ReLU(q8[t][h] · k8[s]) · weights_proj(x_t)[h] · n_head^-½ · q_scale[t][h] · dim^-½
//   selected(t) = top-k over the causal keys s <= t (no key forced in)
// The cache row of a token, after MLA's [c_kv | k_rope], gains the key record
// [f32 scale | dim E4M3 bytes] (132 bytes at dim 128).
#pragma once

#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/blocks/rope.h"
#include "model/kv_cache.h"
#include "model/step_arena.h"

namespace dseek {

struct DsaWeights {
  int64_t n_head = 0, head_dim = 0, topk = 0;  // n_head == 0: no indexer (dense MLA)
  int64_t d_rope = 0;                          // MLA's qk_rope_head_dim: the rotated leading dims
  int64_t cache_offset = 0;                    // floats before the key record in a cache row (Ckv + Dr)
  kernels::MatrixView wq_b;                    // [n_head*head_dim x Cq]
  kernels::MatrixView wk;                      // [head_dim x E]
  kernels::MatrixView proj;                    // weights_proj [n_head x E]
  const float *k_norm = nullptr, *k_norm_bias = nullptr;
  bool enabled() const { return n_head > 0; }
};

// Floats a key record adds to each cache row: one scale and head_dim bytes.
inline int64_t dsa_cache_floats(int64_t head_dim) { return 1 + (head_dim + 3) / 4; }

// The keys each row of a step attends to. count[t] < 0: all its causal keys
// (dense); otherwise keys + t * topk holds count[t] positions, ascending.
struct DsaSelection {
  const int64_t* count = nullptr;
  const int32_t* keys = nullptr;
  int64_t topk = 0;
  bool dense(int64_t t) const { return count == nullptr || count[t] < 0; }
  std::span<const int32_t> of(int64_t t) const { return {keys + t * topk, static_cast<size_t>(count[t])}; }
};

// Writes the key record of every token of the step into its cache row
// (after MLA's part), then selects each row's keys. xn: the layer's normalised
// input [T x E]; q_lora: MLA's normalised compressed query [T x Cq]. The
// selection lives in `arena` at the caller's scope.
DsaSelection dsa_index(ThreadPool& pool, const DsaWeights& w, const RopeTable& rope, const float* xn,
                       const float* q_lora, std::span<const CacheSpan> seqs, int64_t layer, StepArena& arena);

}  // namespace dseek
