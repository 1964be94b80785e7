// `dseek train tokenizer`: a byte-level BPE trained on text, with DeepSeek's
// special tokens appended (so chat templates and serving work), written as a
// vocabulary-only GGUF that dseek's tokenizer loads, and checked by loading
// it back and round-tripping the training text.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace dseek::train {

struct TokenizerReport {
  size_t n_tokens = 0, n_merges = 0, n_special = 0, n_bytes = 0;
  double bytes_per_token = 0, seconds = 0;
};

Result<TokenizerReport> train_tokenizer_file(const std::string& text, int64_t vocab, const std::string& pre,
                                             const std::string& out_path);

}  // namespace dseek::train
