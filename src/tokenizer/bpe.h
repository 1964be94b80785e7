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
      int32_t pos, left, right, result;
    };
    std::vector<Sym> syms;
    std::vector<Cand> heap;
    std::string spelled;
  };

  // Appends the ids of one pre-token (raw bytes).
  void encode(std::string_view bytes, const TokenIndex& index, std::vector<int32_t>& out, Scratch& s) const;
  size_t n_merges() const { return n_merges_; }
  // Id of the single-byte token for `b`, -1 if the vocabulary lacks it.
  int32_t byte_id(uint8_t b) const { return byte_ids_[b]; }

 private:
  struct Merge {
    uint32_t rank;
    int32_t result;
  };
  struct Slot {  // key and value side by side: one cache line per probe
    uint64_t key;
    Merge merge;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }
  // Open addressing, linear probing, load <= 1/2: the merge lookup is the BPE hot path.
  const Merge* find(int32_t a, int32_t b) const {
    if (a < 0 || b < 0) return nullptr;
    const uint64_t k = key(a, b);
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      if (table_[i].key == k) return &table_[i].merge;
      if (table_[i].key == kEmpty) return nullptr;
    }
  }
  void push_pair(Scratch& s, int32_t pos) const;
  static constexpr size_t kSmallPiece = 64;
  void encode_small(std::string_view bytes, std::vector<int32_t>& out) const;

  std::vector<Slot> table_;
  size_t mask_ = 0, n_merges_ = 0;
  int shift_ = 64;
  std::array<int32_t, 256> byte_ids_{};
  bool ignore_merges_ = false;
};

}  // namespace dseek
