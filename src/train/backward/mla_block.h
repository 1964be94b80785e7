// Multi-head Latent Attention for training, in its naive form (decompress
// per-head K and V from the latent; equal to the absorbed form the inference
// engine runs, which tests/train checks through the exported model):
//   q = W_q x  (or W_qb RMSNorm(W_qa x) with query compression)
//   [c ; k_r] = W_kva x,  c <- RMSNorm(c),  k_r <- RoPE(k_r),  q_rope <- RoPE(q_rope)
//   [k_nope(h) ; v(h)] = W_kvb c,  attention per head, out = W_o [o(1) .. o(H)]
#pragma once

#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "model/deepseek.h"
#include "train/backward/attention.h"
#include "train/param.h"

namespace dseek::train {

struct MlaConfig {
  int64_t n_embd = 0, n_head = 0, q_lora_rank = 0, kv_lora_rank = 0, d_nope = 0, d_rope = 0, d_v = 0;
  double eps = 1e-6, softmax_scale = 1.0;
  bool bf16 = false;  // mixed precision: bfloat16 inputs to every projection
};

// cos/sin of every position for the d_rope/2 pairs: [pos][pair].
struct RopeAngles {
  int64_t n_pairs = 0;
  std::vector<float> cos, sin;
};

template <typename T>
struct MlaParams {
  Param<T> q, q_a, q_a_norm, q_b, kv_a, kv_a_norm, kv_b, o;
  void shape(const DeepseekHParams& h, int64_t layer);  // as the DeepSeek tensor table says
  void init(const MlaConfig& c, Rng& rng, double out_scale);
  void collect(std::vector<Param<T>*>& out);
};

// What forward saves for backward.
template <typename T>
struct MlaState {
  std::vector<T> qa, qa_inv, qan, q, kva, c_inv, c, kr, kv, probs, o;
};

// xn [n x E] -> out [n x E]. positions[n] index the rope angles;
// seq_starts delimit independent sequences (see attention.h).
template <typename T>
void mla_fwd(ThreadPool& pool, const MlaConfig& c, const MlaParams<T>& p, const RopeAngles& rope, const T* xn,
             int64_t n, std::span<const int64_t> seq_starts, std::span<const int32_t> positions, MlaState<T>& s, T* out);
// Accumulates parameter gradients and dxn [n x E] (+=).
template <typename T>
void mla_bwd(ThreadPool& pool, const MlaConfig& c, MlaParams<T>& p, const RopeAngles& rope, const T* xn, int64_t n,
             std::span<const int64_t> seq_starts, std::span<const int32_t> positions, const MlaState<T>& s,
             const T* dout, T* dxn);

}  // namespace dseek::train
