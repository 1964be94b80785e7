// DeepSeekMoE expert selection (DeepSeek-V3 §2.1.2, V2 §2.2): softmax or
// sigmoid scores, an optional score-correction bias that only chooses,
// group-limited selection, renormalisation and the routed scaling factor.
// A pure function of one token's router logits.
#pragma once

#include <cstdint>

namespace dseek {

struct RoutingConfig {
  int64_t n_expert = 0, n_used = 0, n_group = 1, n_group_used = 1;
  bool sigmoid = false;     // scoring: sigmoid (V3) or softmax (V2)
  bool sqrt_softplus = false;  // scoring: sqrt(softplus(logit)) (V4; overrides `sigmoid`)
  bool normalize = false;   // norm_topk_prob
  float scale = 1.0f;       // routed_scaling_factor
};

// Floats of scratch route_token needs: 2 * n_expert + n_group.
int64_t route_scratch_floats(const RoutingConfig& cfg);

// logits[n_expert] -> idx[n_used] (ascending expert index) and weights w[n_used].
// `bias` (nullable) is the expert-score correction bias (selection only).
// `scratch` holds route_scratch_floats(cfg) floats. Allocates nothing.
void route_token(const RoutingConfig& cfg, const float* logits, const float* bias, float* scratch, int32_t* idx,
                 float* w);

// DeepSeek-V4's hash-routed layers: the experts are given (the token's row of
// the frozen tid2eid table, n_used entries, as stored); the weights are their
// scores, normalised and scaled as route_token does. idx ascending.
void route_token_fixed(const RoutingConfig& cfg, const float* logits, const float* experts, float* scratch,
                       int32_t* idx, float* w);

}  // namespace dseek
