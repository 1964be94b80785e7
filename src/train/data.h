// Training data: text files tokenised once into a train and a validation
// stream (the last val_fraction of the tokens), and a seeded sampler of
// fixed-length windows from a stream.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace dseek::train {

// The concatenated bytes of `files` (a newline between files), at most max_bytes.
Result<std::string> read_text_files(const std::vector<std::string>& files, size_t max_bytes);

struct TokenData {
  std::vector<int32_t> train, val;
};
// No BOS; special-token text becomes the special token only when asked.
Result<TokenData> tokenize_for_training(const Tokenizer& tok, const std::string& text, double val_fraction,
                                        int64_t min_tokens, bool special_tokens);

class WindowSampler {
 public:
  WindowSampler(std::span<const int32_t> tokens, int64_t window, uint64_t seed);
  // n windows of `window` tokens from random offsets, appended row by row to out.
  void sample(int64_t n, std::vector<int32_t>& out);
  // The k-th of the stream's consecutive non-overlapping windows (evaluation).
  void fixed(int64_t k, std::vector<int32_t>& out) const;
  int64_t n_fixed() const;
  // The generator's position: a checkpoint stores it so that a resumed run
  // draws the same windows as an uninterrupted one.
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  std::span<const int32_t> tokens_;
  int64_t window_;
  uint64_t state_;
};

}  // namespace dseek::train
