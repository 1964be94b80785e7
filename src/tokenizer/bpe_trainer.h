// A deterministic byte-level BPE trainer (`dseek train tokenizer`, and the
// vocabularies of generated test models). Classic BPE: count adjacent pairs
// inside pre-tokens, merge the most frequent (ties: lowest ids), repeat. Pair
// counts are kept incrementally — a merge touches only the words that hold
// the pair — so a book-sized corpus trains in seconds.
#pragma once

#include <cstddef>
#include <functional>
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
// progress(merges done, merges wanted) is called now and then.
Result<TrainedBpe> train_byte_bpe(std::string_view text, size_t target_vocab_size, std::string_view pre_name,
                                  const std::function<void(size_t, size_t)>& progress = {});

}  // namespace dseek
