// The speculative-sampling acceptance step (Leviathan et al. 2023; Chen et
// al. 2023) for drafts with a one-hot proposal q: accept x with probability
// min(1, p(x) / q(x)) = p(x), else draw from norm(max(0, p - q)), which is p
// without x. P(token = y) = p(y) for every y, the plain sampler's law.
#include <cmath>

#include "runtime/sampler/sampler.h"

namespace dseek {

const std::vector<Candidate>& Sampler::distribution(std::span<const float> logits, std::span<const int32_t> history) {
  cand_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) cand_[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  apply_penalties(p_, history, cand_);
  apply_truncation(p_, cand_);
  return cand_;
}

Sampler::Verdict Sampler::verify_draft(std::span<const float> logits, std::span<const int32_t> history, int32_t draft) {
  if (p_.temperature <= 0.0f) {  // greedy: the draft stands iff it is the argmax
    const int32_t tok = sample(logits, history);
    return {tok, tok == draft};
  }
  const std::vector<Candidate>& c = distribution(logits, history);
  double p_draft = 0;
  for (const auto& x : c)
    if (x.id == draft) p_draft = x.prob;
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  if (u < p_draft) return {draft, true};
  // Rejected: inverse-CDF over p with the draft's mass taken out.
  const double v = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * (1.0 - p_draft);
  double acc = 0;
  int32_t last = -1;
  for (const auto& x : c) {
    if (x.id == draft) continue;
    last = x.id;
    acc += x.prob;
    if (v < acc) return {x.id, false};
  }
  // Rounding left v past the sum: the last candidate other than the draft (there is one, as p_draft < 1 here).
  return {last >= 0 ? last : draft, false};
}

}  // namespace dseek
