// SentencePiece-style BPE for GGUF "llama" vocabularies: text (already with
// spaces as U+2581 and the dummy prefix) starts as one symbol per code point;
// the adjacent pair whose concatenation is the highest-scoring piece merges
// first (ties: leftmost); code points that are no piece fall back to <0xXX>
// byte tokens. Not the unigram model, not normalisation.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/bpe.h"

namespace dseek {

class SpmModel {
 public:
  // `mergeable[id]`: may be the result of a merge (normal / user-defined pieces).
  static Result<SpmModel> build(const TokenIndex& index, std::vector<float> scores, std::vector<uint8_t> mergeable,
                                int32_t unk_id);

  struct Scratch {
    struct Sym {
      uint32_t begin, len;
      int32_t prev, next;
    };
    struct Cand {
      float score;
      int32_t left;
      uint32_t size;
    };
    std::vector<Sym> syms;
    std::vector<Cand> heap;
  };
  void encode(std::string_view text, const TokenIndex& index, std::vector<int32_t>& out, Scratch& s) const;
  int32_t byte_id(uint8_t b) const { return byte_ids_[b]; }

 private:
  void try_pair(std::string_view text, const TokenIndex& index, Scratch& s, int32_t left) const;
  std::vector<float> scores_;
  std::vector<uint8_t> mergeable_;
  std::array<int32_t, 256> byte_ids_{};
  int32_t unk_id_ = -1;
};

}  // namespace dseek
