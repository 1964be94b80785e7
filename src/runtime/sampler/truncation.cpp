// Temperature, top-k, top-p (nucleus, Holtzman et al. 2019) and min-p
// truncation over the candidate list; leaves normalised probabilities.
#include <algorithm>
#include <cmath>

#include "runtime/sampler/sampler.h"

namespace dseek {

void apply_truncation(const SamplingParams& p, std::vector<Candidate>& c) {
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
    return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
  });
  if (p.top_k > 0 && c.size() > static_cast<size_t>(p.top_k)) c.resize(static_cast<size_t>(p.top_k));
  const float t = p.temperature > 0 ? p.temperature : 1.0f;
  const double mx = c.front().logit;
  double sum = 0;
  for (auto& x : c) sum += (x.prob = static_cast<float>(std::exp((x.logit - mx) / t)));
  for (auto& x : c) x.prob = static_cast<float>(x.prob / sum);
  if (p.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p
    double acc = 0;
    size_t keep = c.size();
    for (size_t i = 0; i < c.size(); ++i) {
      acc += c[i].prob;
      if (acc >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
    c.resize(keep);
  }
  if (p.min_p > 0.0f) {
    const float floor = p.min_p * c.front().prob;
    size_t keep = 1;
    while (keep < c.size() && c[keep].prob >= floor) ++keep;
    c.resize(keep);
  }
  sum = 0;
  for (const auto& x : c) sum += x.prob;
  for (auto& x : c) x.prob = static_cast<float>(x.prob / sum);
}

}  // namespace dseek
