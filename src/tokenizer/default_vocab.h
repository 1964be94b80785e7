// The vocabulary `dseek init` gives generated models: GPT-2-style byte-level
// BPE (256 byte tokens + merges learned from a built-in text), then
// DeepSeek's special tokens. Written as GGUF `tokenizer.ggml.*` keys, so the
// same file tokenizes in dseek and llama.cpp. Not a general BPE trainer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/gguf_writer.h"
#include "tokenizer/bpe_trainer.h"

namespace dseek {

struct GeneratedVocab {
  std::vector<std::string> tokens;   // byte-unicode spelling (GPT-2 map)
  std::vector<int32_t> token_types;  // 1 normal, 3 control, 4 user-defined
  std::vector<std::string> merges;   // "left right"
  int32_t bos_id = 0, eos_id = 0, pad_id = 0;
};

// `n_vocab` total tokens (>= 256 + specials); merges fill what the built-in
// text supports, the rest become reserved placeholder tokens.
GeneratedVocab generate_vocab(int64_t n_vocab);
int64_t generated_vocab_min_size();

// A trained byte-level BPE (`dseek train tokenizer`) with DeepSeek's special
// tokens appended, so chat templates and serving work with it.
GeneratedVocab vocab_with_specials(const TrainedBpe& bpe);

// Writes tokenizer.ggml.* keys (model gpt2, pre `pre`) and the chat template.
void write_vocab_metadata(const GeneratedVocab& v, GgufWriter& w, const std::string& pre = "deepseek-v3");

}  // namespace dseek
