// DeepSeek V2 / V2-Lite / V3 / R1 / V3.1 / V3.2 hyper-parameters (shared by the
// architecture file model/arch/deepseek.cpp and the trainer).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "model/arch.h"
#include "model/model.h"
#include "model/tensor_table.h"

namespace dseek {

enum class Gating { kSoftmax = 1, kSigmoid = 2 };

struct DeepseekHParams {
  std::string variant = "deepseek-v3";  // deepseek-v2 | deepseek-v3 | deepseek-v32 (presets, naming only)
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_ctx = 4096;
  int64_t q_lora_rank = 0, kv_lora_rank = 0, d_nope = 0, d_rope = 0, d_v = 0;
  int64_t n_ff = 0, n_ff_exp = 0, n_expert = 0, n_expert_shared = 0, n_expert_used = 0;
  int64_t n_group = 1, n_group_used = 1, n_dense_lead = 0, n_mtp = 0;
  Gating gating = Gating::kSoftmax;
  bool norm_topk = false;
  bool expert_bias = false;  // the expert score-correction bias (noaux_tc)
  double route_scale = 1.0, rope_theta = 10000.0, rms_eps = 1e-6;
  double yarn_factor = 0.0, yarn_orig_ctx = 0.0, yarn_beta_fast = 32.0, yarn_beta_slow = 1.0, mscale_all_dim = 0.0;
  int64_t index_n_heads = 0, index_head_dim = 0, index_topk = 0;  // V3.2's sparse-attention indexer (0: dense)
};

// The DeepSeek tensor slots, in GGUF file order; the table itself (names,
// dims, conditions) is in model/arch/deepseek.cpp. kKvB is the joint W_UK/W_UV
// (the HF and older GGUF layout) that files may hold instead of kKB + kVB.
enum class DsTensor {
  kTokenEmbd,
  kMtpENorm, kMtpHNorm, kMtpEhProj, kMtpHeadNorm,  // MTP layers only, before their decoder layer
  kAttnNorm, kQA, kQANorm, kQB, kQ, kKvA, kKvANorm, kKB, kVB, kKvB, kAttnOut,
  kIdxQB, kIdxK, kIdxKNorm, kIdxKNormBias, kIdxProj,                 // V3.2's indexer
  kFfnNorm, kGate, kDown, kUp,                                       // dense layers
  kRouter, kExpBias, kGateExps, kDownExps, kUpExps, kGateShexp, kDownShexp, kUpShexp,  // MoE layers
  kOutputNorm, kOutput,
};
using DeepseekTensors = TensorTable<DeepseekHParams, DsTensor>;
const DeepseekTensors& deepseek_tensors();

// Hyper-parameters from a Hugging Face config.json (validated), and the
// architecture of given hyper-parameters (what the trainer exports with).
Result<DeepseekHParams> deepseek_hparams_from_hf_config(const nlohmann::json& config);
Result<DeepseekHParams> deepseek_hparams_from_gguf(const GgufFile& f);
Result<std::unique_ptr<Architecture>> deepseek_from_hparams(const DeepseekHParams& h);

Result<std::unique_ptr<Model>> create_deepseek_model(const DeepseekHParams& h, std::shared_ptr<const ModelFiles> files);

}  // namespace dseek
