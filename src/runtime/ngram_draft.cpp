// See ngram_draft.h.
#include "runtime/ngram_draft.h"

#include <algorithm>

namespace dseek {

std::vector<int32_t> ngram_lookup(std::span<const int32_t> history, int64_t n, int64_t max_ngram) {
  const int64_t L = static_cast<int64_t>(history.size());
  for (int64_t m = std::min(max_ngram, L - 1); m >= 1; --m) {
    const auto suffix = history.subspan(static_cast<size_t>(L - m));
    for (int64_t i = L - m - 1; i >= 0; --i) {  // most recent earlier occurrence first
      if (!std::equal(suffix.begin(), suffix.end(), history.begin() + i)) continue;
      const int64_t from = i + m, count = std::min(n, L - from);
      return {history.begin() + from, history.begin() + from + count};
    }
  }
  return {};
}

}  // namespace dseek
