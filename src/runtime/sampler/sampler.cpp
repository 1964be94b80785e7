// The sampler chain and parameter validation (see sampler.h).
#include "runtime/sampler/sampler.h"

#include <algorithm>
#include <cmath>

namespace dseek {

Status validate(const SamplingParams& p) {
  auto bad = [](const std::string& m) { return Status::error(m); };
  if (!(p.temperature >= 0.0f && p.temperature <= 100.0f)) return bad("temperature must be between 0 and 100");
  if (p.top_k < 0) return bad("top_k must be >= 0 (0 disables it)");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return bad("top_p must be in (0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return bad("min_p must be in [0, 1]");
  if (!(p.repetition_penalty > 0.0f && p.repetition_penalty <= 10.0f)) return bad("repetition_penalty must be in (0, 10]");
  if (!(std::fabs(p.presence_penalty) <= 2.0f)) return bad("presence_penalty must be between -2 and 2");
  if (!(std::fabs(p.frequency_penalty) <= 2.0f)) return bad("frequency_penalty must be between -2 and 2");
  if (p.penalty_last_n < -1) return bad("penalty_last_n must be >= -1");
  return ok_status();
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  cand_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) cand_[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  apply_penalties(p_, history, cand_);
  if (p_.temperature <= 0.0f) {
    const auto best = std::max_element(cand_.begin(), cand_.end(), [](const Candidate& a, const Candidate& b) {
      return a.logit != b.logit ? a.logit < b.logit : a.id > b.id;  // ties: lowest id
    });
    return best->id;
  }
  apply_truncation(p_, cand_);
  // Inverse-CDF draw from a 53-bit uniform: reproducible across platforms for one seed.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  double acc = 0;
  for (const auto& c : cand_) {
    acc += c.prob;
    if (u < acc) return c.id;
  }
  return cand_.back().id;
}

}  // namespace dseek
