// Repetition (CTRL, Keskar et al. 2019), presence and frequency penalties
// (OpenAI's definitions) over the last `penalty_last_n` tokens of history.
#include <unordered_map>

#include "runtime/sampler/sampler.h"

namespace dseek {

void apply_penalties(const SamplingParams& p, std::span<const int32_t> history, std::vector<Candidate>& c) {
  if (p.repetition_penalty == 1.0f && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f) return;
  if (p.penalty_last_n >= 0 && history.size() > static_cast<size_t>(p.penalty_last_n))
    history = history.subspan(history.size() - static_cast<size_t>(p.penalty_last_n));
  std::unordered_map<int32_t, int> count;
  for (int32_t t : history) ++count[t];
  for (auto& cand : c) {
    auto it = count.find(cand.id);
    if (it == count.end()) continue;
    if (p.repetition_penalty != 1.0f)
      cand.logit = cand.logit > 0 ? cand.logit / p.repetition_penalty : cand.logit * p.repetition_penalty;
    cand.logit -= p.presence_penalty + p.frequency_penalty * static_cast<float>(it->second);
  }
}

}  // namespace dseek
