// Multi-head Latent Attention (DeepSeek-V2 §2.1): low-rank query and KV
// compression, decoupled RoPE keys, in two exact forms over the same cache —
// naive (decompress per-head K/V) and absorbed (W_UK folded into the query,
// W_UV applied after attending over the latent). The cache row of a token is
// [normalised c_kv (Ckv) | rotated k_rope (Dr)], stored as f32, bf16 or fp8
// (kernels/cache_rows.h; attention decodes it to f32, mla_cache_rows.h).
//
// One layer is project -> attend (naive | absorbed) -> output. The files
// store W_UK / W_UV either split per head or joint; MlaUpProjection hides
// which, bound once at load.
#pragma once

#include <span>

#include "core/thread_pool.h"
#include "kernels/cache_rows.h"
#include "kernels/kernels.h"
#include "model/blocks/dsa_indexer.h"
#include "model/blocks/rope.h"
#include "model/kv_cache.h"
#include "model/step_arena.h"

namespace dseek {

struct MlaDims {
  int64_t n_embd = 0, n_head = 0, q_lora_rank = 0, kv_lora_rank = 0, d_nope = 0, d_rope = 0, d_v = 0;
  float eps = 1e-6f;
  float softmax_scale = 1.0f;
  KvCacheType cache_type = KvCacheType::kF32;  // how [c_kv | k_rope] is stored (mla_cache_rows.h)
};

// A matrix stored as n_head consecutive blocks of `stride` rows; head h's
// part is `rows` rows starting `skip` rows into its block.
struct PerHeadRows {
  kernels::MatrixView all;
  int64_t stride = 0, skip = 0, rows = 0;
  kernels::MatrixView head(int64_t h) const { return kernels::matrix_rows(all, h * stride + skip, rows); }
};

// W_UK and W_UV per head. Split files (W_UK^T [H*Ckv x Dn] and W_UV
// [H*Dv x Ckv], our GGUFs) and joint ones (kv_b [H*(Dn+Dv) x Ckv]: HF and
// older GGUFs) store W_UK in opposite orientations, so each product
// with it is a plain or a transposed matvec depending on the layout; the
// layout's functions are chosen here, once, and keep each layout's bits.
struct MlaUpProjection {
  PerHeadRows uk;  // W_UK[h] as stored: [Ckv x Dn] (split) or [Dn x Ckv] (joint)
  PerHeadRows uv;  // W_UV[h] [Dv x Ckv]
  // k_nope[Dn] = W_UK[h] c
  void (*key_of_latent)(const kernels::MatrixView& uk_head, const float* c, float* k_nope) = nullptr;
  // q_abs[t][h][Ckv] = W_UK[h]^T q_nope[t][h] for every token and head (q: [n_tok][H][Dn+Dr])
  void (*absorb_queries)(ThreadPool& pool, const MlaUpProjection& up, int64_t n_head, const float* q,
                         int64_t q_head_stride, int64_t n_tok, float* q_abs) = nullptr;
};
MlaUpProjection mla_split_up_projection(const kernels::MatrixView& k_b, const kernels::MatrixView& v_b,
                                        const MlaDims& d);
MlaUpProjection mla_joint_up_projection(const kernels::MatrixView& kv_b, const MlaDims& d);

struct MlaWeights {
  kernels::MatrixView q;                 // [H*(Dn+Dr) x E] when q_lora_rank == 0
  kernels::MatrixView q_a, q_b;          // [Cq x E], [H*(Dn+Dr) x Cq]
  const float* q_a_norm = nullptr;
  kernels::MatrixView kv_a;              // [(Ckv+Dr) x E]
  const float* kv_a_norm = nullptr;
  MlaUpProjection up;
  kernels::MatrixView o;                 // [E x H*Dv]
  DsaWeights dsa;                        // DeepSeek-V3.2's indexer (n_head 0: dense MLA)
};

enum class MlaMode { kNaive, kAbsorbed };

using AttnSeq = CacheSpan;

// xn: normalised inputs [T x E] (T = all sequences' tokens). Writes each
// token's cache row for `layer` and out [T x E]. Projections run once over all
// T rows; attention runs per sequence over its own cache, causally. A token's
// result depends only on its own sequence (batch-invariant). With an indexer
// (w.dsa) each row attends only to the keys it selects.
void mla_forward(ThreadPool& pool, const MlaDims& d, const MlaWeights& w, const RopeTable& rope, const float* xn,
                 std::span<const AttnSeq> seqs, int64_t layer, MlaMode mode, float* out, StepArena& arena);

// The two attention forms (mla_attend.cpp). q: [T][H][Dn+Dr] with rope applied;
// both write o [T][H][Dv] for the sequence's rows, attending to the keys `sel`
// names for each row (all causal keys where it says dense).
void mla_attend_naive(ThreadPool& pool, const MlaDims& d, const MlaUpProjection& up, const AttnSeq& sq, int64_t layer,
                      const float* q, const DsaSelection& sel, float* o, StepArena& arena);
// Absorbed: q_abs [T][H][Ckv] in, the attended latents lat [T][H][Ckv] out (W_UV is applied by the caller).
void mla_attend_absorbed(ThreadPool& pool, const MlaDims& d, const AttnSeq& sq, int64_t layer, const float* q,
                         const float* q_abs, const DsaSelection& sel, float* lat, StepArena& arena);

}  // namespace dseek
