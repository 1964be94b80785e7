// A trainable DeepSeek-architecture model (MLA + DeepSeekMoE + MTP) with the
// same structure and tensor names as the inference model in model/, holding
// its parameters in T (float to train, double for gradient checks). One call
// runs forward and backward over a batch of equal-length sequences and returns
// the losses; gradients accumulate in the parameters until zero_grad().
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "model/deepseek.h"
#include "train/backward/ffn_block.h"
#include "train/backward/mla_block.h"
#include "train/param.h"

namespace dseek::train {

struct LossOptions {
  double mtp_weight = 0.3;       // lambda of the MTP loss (DeepSeek-V3 §2.2)
  double balance_alpha = 1e-4;   // sequence-wise balance loss weight (V3 §2.1.2)
  bool backward = true;
  // Logit distillation (Hinton et al. 2015): teacher logits [n x V] for every
  // position; loss += kd_weight * tau^2 * KL(teacher_tau || student_tau).
  const float* teacher_logits = nullptr;
  double ce_weight = 1.0, kd_weight = 0.0, kd_temperature = 1.0;
  // Policy gradient (GRPO): per-position targets [n] (-1: none) and weights [n]
  // replace the next-token loss: loss = sum_t w_t * -log p(target_t).
  const int32_t* pg_targets = nullptr;
  const float* pg_weights = nullptr;
  // Packed documents (SFT): boundaries in the flattened tokens, 0 first and n
  // last, every row boundary included. Attention and positions restart at
  // each; empty: one document per row. The MTP module still runs per row.
  std::span<const int64_t> segment_starts = {};
  // Mixed precision (DeepSeek-V3 §3.3): the projections and experts compute on
  // bfloat16 weights and inputs with f32 accumulation; the f32 master weights
  // are what the optimiser updates. Embedding, output head, router, norms and
  // attention stay f32, as in V3.
  bool bf16 = false;
};

struct StepResult {
  double loss = 0;       // total objective per token (main CE + lambda MTP CE + balance)
  double main_ce = 0;    // mean next-token cross-entropy
  double mtp_ce = 0;     // mean MTP (next-next-token) cross-entropy; 0 without MTP
  double balance = 0;    // summed balance losses
  double kd = 0;         // mean KL(teacher || student) per position at temperature 1 scale (0 without a teacher)
  int64_t tokens = 0;    // positions with a next-token target
  std::vector<std::vector<int64_t>> expert_load;  // per MoE layer (MTP last), tokens per expert
};

template <typename T>
struct LayerParams {
  Param<T> attn_norm, ffn_norm;
  MlaParams<T> attn;
  bool dense = true;
  MlpParams<T> mlp;
  MoeParams<T> moe;
};

template <typename T>
struct MtpParams {
  Param<T> enorm, hnorm, eh_proj, head_norm;  // eh_proj [E x 2E]
  LayerParams<T> layer;
};

template <typename T>
class TrainModel {
 public:
  // Hyper-parameters as the inference model reads them (no YaRN for training).
  TrainModel(const DeepseekHParams& h, int64_t max_seq, uint64_t seed);

  const DeepseekHParams& hparams() const { return h_; }
  int64_t max_seq() const { return max_seq_; }
  std::span<Param<T>* const> params() const { return params_; }
  Param<T>* find(const std::string& name) const;
  void zero_grad();
  // The MoE layers' score-correction biases (selection only), main layers then MTP.
  std::vector<std::vector<float>*> expert_biases();
  std::vector<const std::vector<float>*> expert_biases() const;

  // tokens: n_seq rows of S tokens (S <= max_seq). Targets: the next token (and
  // the one after for MTP) within each row.
  StepResult step(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, const LossOptions& opt);
  // Main-head logits [n_seq*S x V] (no gradients), for tests and evaluation.
  void logits(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, std::vector<T>& out);
  // Log-probability of each row's next token at every position [n_seq*S] (the
  // last position of a row gets 0), for GRPO's reference and old policies.
  void token_logprobs(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, std::vector<double>& out);
  // MTP-head logits for positions 0..S-2 of each row [n_seq*(S-1) x V].
  void mtp_logits(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, std::vector<T>& out);

 private:
  struct LayerState;
  struct Forward;
  void shape_layer(LayerParams<T>& l, int64_t index, bool dense);
  void init_layer(LayerParams<T>& l, Rng& rng);
  void layer_fwd(ThreadPool& pool, const LayerParams<T>& l, T* x, int64_t n, std::span<const int64_t> starts,
                 std::span<const int32_t> pos, double alpha, bool bf16, LayerState& s) const;
  void layer_bwd(ThreadPool& pool, LayerParams<T>& l, T* dx, int64_t n, std::span<const int64_t> starts,
                 std::span<const int32_t> pos, double alpha, bool bf16, const LayerState& s);
  void run(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, const LossOptions& opt, Forward& f);
  StepResult step_impl(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, const LossOptions& opt);
  // The matrices computed in bfloat16 (not embedding, head, router): rounded in place for a step, masters kept aside.
  std::vector<Param<T>*> bf16_params();
  template <typename Self>
  static auto biases_of(Self& self);

  DeepseekHParams h_;
  int64_t max_seq_;
  MlaConfig mla_;
  RoutingConfig routing_;
  RopeAngles rope_;
  Param<T> embd_, out_norm_, head_;
  std::vector<LayerParams<T>> layers_;
  std::unique_ptr<MtpParams<T>> mtp_;
  std::vector<Param<T>*> params_;
};

}  // namespace dseek::train
