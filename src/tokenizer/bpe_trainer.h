// A small deterministic byte-level BPE trainer: gives generated test models
// (`dseek init`) a real vocabulary learned from a short text. Classic BPE:
// count adjacent pairs inside pre-tokens, merge the most frequent (ties: lowest
// ids), repeat. Not meant for large corpora (each merge rescans all words).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dseek {

struct TrainedBpe {
  std::vector<std::string> tokens;  // byte-level spellings: the 256 bytes in byte order, then merges
  std::vector<std::string> merges;  // "left right", rank order
};

// Stops early when no pair occurs twice. `pre_name`: a pretokenizer_spec name.
Result<TrainedBpe> train_byte_bpe(std::string_view text, size_t target_vocab_size, std::string_view pre_name);

}  // namespace dseek
