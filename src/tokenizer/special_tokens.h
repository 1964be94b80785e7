// Added / special tokens matched in raw text before pre-tokenization, as HF's
// AddedVocabulary and transformers.js do: at each position the longest token
// wins, leftmost first; lstrip / rstrip swallow adjacent whitespace; single_word
// tokens only match between non-word characters. Not the BPE vocabulary itself.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dseek {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;  // HF `special` / GGUF control token
  bool lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// A stretch of input: plain text (id < 0) or one matched added token.
struct TextPiece {
  uint32_t begin = 0, len = 0;
  int32_t id = -1;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // Splits `text` into plain pieces and matched tokens, in order. Whitespace an
  // lstrip/rstrip token swallows belongs to no piece (HF drops it too).
  void split(std::string_view text, std::vector<TextPiece>& out) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }

 private:
  // Length of the longest token matching at `pos` (0 if none); its index in `hit`.
  size_t match_at(std::string_view text, size_t pos, size_t& hit) const;
  std::vector<AddedToken> tokens_;
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // indices, longest content first
};

}  // namespace dseek
