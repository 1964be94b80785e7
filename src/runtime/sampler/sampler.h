// Token sampling: a fixed chain of stages over one position's logits —
// repetition/presence/frequency penalties, then top-k, top-p, min-p and
// temperature, then a seeded draw (or argmax when temperature is 0).
// Same seed, same logits, same history -> same token.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace dseek {

struct SamplingParams {
  float temperature = 0.8f;          // 0: greedy
  int32_t top_k = 0;                 // 0: off
  float top_p = 1.0f;                // 1: off
  float min_p = 0.0f;                // 0: off (relative to the most likely token)
  float repetition_penalty = 1.0f;   // 1: off (CTRL-style: divide positive logits, multiply negative)
  float presence_penalty = 0.0f;     // OpenAI-style, subtracted once per seen token
  float frequency_penalty = 0.0f;    // OpenAI-style, subtracted per occurrence
  int32_t penalty_last_n = 64;       // how much history the penalties see (-1: all)
  uint64_t seed = 0;
};

// Checks ranges; the message names the parameter and the allowed range.
Status validate(const SamplingParams& p);

struct Candidate {
  int32_t id;
  float logit;
  float prob;
};

// Stages (each in its own file); they work on a candidate list sorted or not as documented.
void apply_penalties(const SamplingParams& p, std::span<const int32_t> history, std::vector<Candidate>& c);
// Sorts by logit (descending, ties by id), applies temperature, top-k, top-p, min-p; fills prob (sums to 1).
void apply_truncation(const SamplingParams& p, std::vector<Candidate>& c);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
  const SamplingParams& params() const { return p_; }

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
  std::vector<Candidate> cand_;
};

}  // namespace dseek
