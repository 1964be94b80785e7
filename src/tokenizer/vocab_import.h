// Importing a real tokenizer into a GGUF being written (`dseek init --tokenizer`):
// from another GGUF (all tokenizer.* keys copied) or from a Hugging Face
// tokenizer.json (+ tokenizer_config.json beside it for BOS/EOS and the chat
// template). Returns the vocabulary size the model's embedding must have.
#pragma once

#include <string>

#include "core/status.h"
#include "format/gguf_writer.h"

namespace dseek {

// `pre` names the pre-tokenizer for tokenizer.json imports (GGUF files carry theirs).
Result<int64_t> import_vocab(const std::string& path, const std::string& pre, GgufWriter& w);

}  // namespace dseek
