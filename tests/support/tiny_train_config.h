// The tiny DeepSeek-V3-shaped configuration the trainer's float64 tests share
// (finite differences need a model small enough to perturb every weight):
// query compression, decoupled RoPE, one dense lead layer, shared and routed
// experts with group-limited sigmoid routing and the balancing bias, one MTP module.
#pragma once

#include "train/train_model.h"

namespace dseek::train {

inline DeepseekHParams tiny_train_v3() {
  DeepseekHParams h;
  h.n_vocab = 13; h.n_embd = 8; h.n_layer = 2; h.n_head = 2;
  h.q_lora_rank = 6; h.kv_lora_rank = 6; h.d_nope = 4; h.d_rope = 4; h.d_v = 3;
  h.n_dense_lead = 1; h.n_ff = 10; h.n_ff_exp = 5; h.n_expert = 4; h.n_expert_shared = 1; h.n_expert_used = 2;
  h.n_group = 2; h.n_group_used = 1; h.gating = Gating::kSigmoid; h.norm_topk = true; h.expert_bias = true;
  h.route_scale = 2.5; h.n_mtp = 1; h.rms_eps = 1e-6;
  return h;
}

}  // namespace dseek::train
