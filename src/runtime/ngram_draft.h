// Prompt-lookup drafts (n-gram matching over the sequence so far): outputs
// that echo their input — code edits, quoted tool results, repeated lists —
// continue as they did before. Needs no model, so it works for every
// architecture.
#pragma once

#include "runtime/speculative.h"

namespace dseek {

// The longest suffix of `history` (at most max_ngram tokens) that occurred
// before, at its most recent earlier place: the up-to-n tokens that followed
// it there. Empty when even the last token never occurred before.
std::vector<int32_t> ngram_lookup(std::span<const int32_t> history, int64_t n, int64_t max_ngram);

class NgramDrafter final : public Drafter {
 public:
  static constexpr int64_t kMaxNgram = 4;
  Status propose(std::span<const int32_t> history, int64_t n, std::vector<int32_t>& out) override {
    out = ngram_lookup(history, n, kMaxNgram);
    return ok_status();
  }
};

}  // namespace dseek
