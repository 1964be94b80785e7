// The feed-forward half of a DeepSeek layer, for training: a SwiGLU MLP
// (dense layers, shared experts, each routed expert), and DeepSeekMoE —
// router scores (sigmoid or softmax), selection with the score-correction
// bias (selection only, never the weights: DeepSeek-V3 §2.1.2), gate weights
// (normalised over the chosen experts, scaled), the sequence-wise balance
// loss, and per-expert load counts for auxiliary-loss-free balancing.
#pragma once

#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "model/blocks/moe_routing.h"
#include "model/deepseek.h"
#include "train/param.h"

namespace dseek::train {

template <typename T>
struct MlpParams {
  Param<T> gate, up, down;  // [F x E], [F x E], [E x F]
  // A dense layer's MLP or the shared experts (gate, up, down slots), or routed expert e of the merged slots.
  void shape(const DeepseekHParams& h, int64_t layer, DsTensor gate_id, DsTensor up_id, DsTensor down_id);
  void shape_expert(const DeepseekHParams& h, int64_t layer, int64_t e);
  void init(Rng& rng, double out_scale);
  void collect(std::vector<Param<T>*>& out);
};

template <typename T>
struct MlpState {
  std::vector<T> g, u, a;
};

// y [n x E] = down(silu(gate x) * up x); backward accumulates dx (+=) and grads.
// bf16: mixed precision (bfloat16 inputs to the projections, see ops.h).
template <typename T>
void mlp_fwd(ThreadPool& pool, const MlpParams<T>& p, const T* x, int64_t n, MlpState<T>& s, T* y, bool bf16 = false);
template <typename T>
void mlp_bwd(ThreadPool& pool, MlpParams<T>& p, const T* x, int64_t n, const MlpState<T>& s, const T* dy, T* dx,
             bool bf16 = false);

template <typename T>
struct MoeParams {
  Param<T> router;                       // [X x E]
  std::vector<MlpParams<T>> experts;     // X routed experts
  bool has_shared = false;
  MlpParams<T> shared;                   // Xs shared experts as one MLP of width Fe * Xs
  std::vector<float> bias;               // expert score-correction bias (noaux_tc); empty if unused. Not trained by gradient.
  void shape(const DeepseekHParams& h, int64_t layer);  // as the DeepSeek tensor table says
  void init(Rng& rng, double out_scale);
  void collect(std::vector<Param<T>*>& out);
};

template <typename T>
struct MoeState {
  std::vector<T> logits, score;          // [n x X]
  std::vector<int32_t> idx;              // [n x K] selected experts
  std::vector<T> weight;                 // [n x K] gate weights
  std::vector<std::vector<int64_t>> rows;  // per expert: (token * K + k) slots that chose it
  std::vector<std::vector<T>> xe, ye;    // per expert: gathered inputs, outputs
  std::vector<MlpState<T>> es;
  MlpState<T> shared;
  std::vector<int64_t> load;             // tokens per expert in this call
  double balance_loss = 0;               // alpha * sum_i f_i P_i, averaged over sequences
};

// balance_alpha = 0 disables the sequence-wise balance loss.
template <typename T>
void moe_fwd(ThreadPool& pool, const RoutingConfig& r, const MoeParams<T>& p, const T* x, int64_t n,
             std::span<const int64_t> seq_starts, double balance_alpha, MoeState<T>& s, T* y, bool bf16 = false);
template <typename T>
void moe_bwd(ThreadPool& pool, const RoutingConfig& r, MoeParams<T>& p, const T* x, int64_t n,
             std::span<const int64_t> seq_starts, double balance_alpha, const MoeState<T>& s, const T* dy, T* dx,
             bool bf16 = false);

}  // namespace dseek::train
