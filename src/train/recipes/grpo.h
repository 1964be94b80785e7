// `dseek train grpo`: group-relative policy optimisation (DeepSeekMath §4.1,
// R1 §2.2) with verifiable rewards. Per step: G completions per prompt from
// the current policy (sampled by the inference engine from the exported
// policy), rewards, advantages normalised within each group, then one
// gradient step on  -A * log pi(token) + beta * KL(pi || pi_ref)  per token
// (the k3 estimator; on-policy, so the clipped ratio is 1 at the update).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace dseek::train {

struct GrpoConfig {
  std::string model;             // starting policy (DeepSeek-architecture GGUF with a tokenizer)
  std::string out;               // final policy GGUF (+ .log.json, .svg)
  std::string task = "arithmetic";
  int64_t steps = 100, prompts = 8, group = 8, max_new = 32, eval_every = 10, held_out = 100, max_operand = 50;
  double lr = 2e-4, beta = 0.02, temperature = 1.0, format_weight = 0.25, weight_decay = 0.0, clip = 1.0;
  uint64_t seed = 1;
  int threads = 2;
  // Curriculum: training problems start 1-digit (operands < 10) and their
  // range grows linearly to max_operand over this many steps (0: none). The
  // held-out problems always span the full range.
  int64_t curriculum_steps = 0;
};

// The exclusive upper bound of the operands drawn at `step` (see curriculum_steps).
int64_t curriculum_operand_limit(const GrpoConfig& c, int64_t step);

struct GrpoSummary {
  double initial_accuracy = 0, final_accuracy = 0, final_reward = 0;           // greedy accuracies
  double initial_sampled_accuracy = 0, final_sampled_accuracy = 0;             // one sample at the rollout temperature
  int64_t steps = 0;
};

Result<GrpoSummary> run_grpo(const GrpoConfig& cfg);

}  // namespace dseek::train
