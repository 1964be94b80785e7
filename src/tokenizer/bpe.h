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
  // Packed slot: left id (20 bits) | right id (20 bits) | rank (24 bits); the merged
  // id is looked up by rank only when a merge happens. 8 bytes a slot keeps the
  // table (load <= 1/2) at 2 MiB for DeepSeek-V3's 127741 merges: lookups miss less.
  static constexpr int kIdBits = 20, kRankBits = 24;
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static constexpr uint32_t kNoRank = ~uint32_t{0};
  static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << kIdBits) | uint32_t(b); }
  size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }
  // Rank of merging (a, b), kNoRank if there is no such merge.
  uint32_t rank_of(int32_t a, int32_t b) const {
    if (a < 0 || b < 0) return kNoRank;
    const uint64_t k = pair_key(a, b);
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      const uint64_t e = table_[i];
      if (e == kEmpty) return kNoRank;
      if ((e >> kRankBits) == k) return static_cast<uint32_t>(e & ((1u << kRankBits) - 1));
    }
  }
  Merge merge_of(int32_t a, int32_t b) const {
    const uint32_t r = rank_of(a, b);
    return {r, r == kNoRank ? -1 : result_by_rank_[r]};
  }
  void push_pair(Scratch& s, int32_t pos) const;
  static constexpr size_t kSmallPiece = 64;
  void encode_small(std::string_view bytes, std::vector<int32_t>& out) const;

  std::vector<uint64_t> table_;
  std::vector<int32_t> result_by_rank_;
  std::vector<uint32_t> byte_pair_rank_;  // [b0 << 8 | b1]: the first round of every piece, without hashing
  size_t mask_ = 0, n_merges_ = 0;
  int shift_ = 64;
  std::array<int32_t, 256> byte_ids_{};
  bool ignore_merges_ = false;
};

}  // namespace dseek
