// Multi-head Latent Attention (DeepSeek-V2 §2.1): low-rank query and KV
// compression, decoupled RoPE keys, in two exact forms over the same cache —
// naive (decompress per-head K/V) and absorbed (W_UK folded into the query,
// W_UV applied after attending over the latent). The cache row of a token is
// [normalised c_kv (Ckv) | rotated k_rope (Dr)].
#pragma once

#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/blocks/rope.h"
#include "model/kv_cache.h"

namespace dseek {

struct MlaDims {
  int64_t n_embd = 0, n_head = 0, q_lora_rank = 0, kv_lora_rank = 0, d_nope = 0, d_rope = 0, d_v = 0;
  float eps = 1e-6f;
  float softmax_scale = 1.0f;
};

struct MlaWeights {
  kernels::MatrixView q;                 // [H*(Dn+Dr) x E] when q_lora_rank == 0
  kernels::MatrixView q_a, q_b;          // [Cq x E], [H*(Dn+Dr) x Cq]
  const float* q_a_norm = nullptr;
  kernels::MatrixView kv_a;              // [(Ckv+Dr) x E]
  const float* kv_a_norm = nullptr;
  // W_UK / W_UV either split per head (GGUF attn_k_b = W_UK^T [H*Ckv x Dn],
  // attn_v_b [H*Dv x Ckv]) or joint (HF kv_b_proj / GGUF attn_kv_b [H*(Dn+Dv) x Ckv]).
  bool split = true;
  kernels::MatrixView k_b, v_b, kv_b;
  kernels::MatrixView o;                 // [E x H*Dv]
};

enum class MlaMode { kNaive, kAbsorbed };

using AttnSeq = CacheSpan;

// xn: normalised inputs [T x E] (T = all sequences' tokens). Writes each
// token's cache row for `layer` and out [T x E]. Projections run once over all
// T rows; attention runs per sequence over its own cache, causally. A token's
// result depends only on its own sequence (batch-invariant).
void mla_forward(ThreadPool& pool, const MlaDims& d, const MlaWeights& w, const RopeTable& rope, const float* xn,
                 std::span<const AttnSeq> seqs, int64_t layer, MlaMode mode, float* out, std::vector<float>& scratch);

}  // namespace dseek
