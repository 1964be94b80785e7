// Byte-level BPE over a rank table (HF `BPE` model / GGUF "gpt2" vocab): a
// pre-token's bytes start as the 256 byte tokens, then the lowest-ranked adjacent
// pair merges until none is left (ties: leftmost). Not pre-tokenization, not
// added tokens, no caching (the Tokenizer caches whole pre-tokens).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"

namespace dseek {

// Heterogeneous string lookup (string_view keys without building a std::string).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // `index`: byte-level spelling -> id. `merges` in rank order, as spellings.
  static Result<BpeModel> build(const TokenIndex& index,
                                const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges);

  struct Scratch {
    struct Sym {
      int32_t id, prev, next;
    };
    struct Cand {
      uint32_t rank;
      int32_t pos, left, right;
    };
    std::vector<Sym> syms;
    std::vector<Cand> heap;
    std::string spelled;
  };

  // Appends the ids of one pre-token (raw bytes).
  void encode(std::string_view bytes, const TokenIndex& index, std::vector<int32_t>& out, Scratch& s) const;
  size_t n_merges() const { return merges_.size(); }
  // Id of the single-byte token for `b`, -1 if the vocabulary lacks it.
  int32_t byte_id(uint8_t b) const { return byte_ids_[b]; }

 private:
  struct Merge {
    uint32_t rank;
    int32_t result;
  };
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  const Merge* find(int32_t a, int32_t b) const {
    auto it = merges_.find(key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }
  void push_pair(Scratch& s, int32_t pos) const;

  std::unordered_map<uint64_t, Merge> merges_;
  std::array<int32_t, 256> byte_ids_{};
  bool ignore_merges_ = false;
};

}  // namespace dseek
