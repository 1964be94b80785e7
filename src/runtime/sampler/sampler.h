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

  // Speculative decoding (sampler/speculative_verify.cpp). verify_draft()
  // decides whether `draft`, proposed by a deterministic drafter (its q is
  // one-hot), stands as the next token: greedy accepts it iff it is what
  // sample() picks; otherwise it is accepted with probability p(draft), and on
  // rejection the token is drawn from p with the draft removed, renormalised
  // (norm(max(0, p - q))). Either way the token returned is distributed as
  // sample()'s, so speculation leaves the output distribution unchanged.
  struct Verdict {
    int32_t token;
    bool accepted;
  };
  Verdict verify_draft(std::span<const float> logits, std::span<const int32_t> history, int32_t draft);
  // The distribution sample() draws from at temperature > 0 (penalties, then
  // truncation and temperature): candidates sorted by logit, probs summing to 1.
  const std::vector<Candidate>& distribution(std::span<const float> logits, std::span<const int32_t> history);

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
  std::vector<Candidate> cand_;
};

}  // namespace dseek
