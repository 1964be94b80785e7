// Tokenizer::from_gguf: reads the tokenizer.ggml.* metadata keys (names as in
// ggml's docs/gguf.md and llama.cpp's converter). "gpt2" = byte-level BPE with a
// named pre-tokenizer table; "llama" = SentencePiece-style with scores.
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

namespace dseek {
namespace {

Result<std::vector<std::pair<std::string, std::string>>> parse_merges(const std::vector<std::string>& lines,
                                                                     const std::string& where) {
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    // Split on the first space after position 0: byte-level spellings never contain ' '.
    const size_t sp = lines[i].find(' ', 1);
    if (sp == std::string::npos)
      return Status::error(where + ": tokenizer.ggml.merges[" + std::to_string(i) + "] '" + lines[i] +
                           "' is not two tokens separated by a space");
    merges.emplace_back(lines[i].substr(0, sp), lines[i].substr(sp + 1));
  }
  return merges;
}

int32_t opt_id(const GgufFile& f, const char* key) {
  auto v = f.get_int(key);
  return v && *v >= 0 && *v < (int64_t{1} << 31) ? static_cast<int32_t>(*v) : -1;
}

}  // namespace

Result<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  const std::string& where = f.path();
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) return Status::error(where + ": no tokenizer.ggml.model key: the file has no tokenizer");
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) return Status::error(where + ": no tokenizer.ggml.tokens (a string array)");
  TokenizerSpec spec;
  spec.source = where;
  spec.tokens = std::move(*tokens);
  if (f.find("tokenizer.ggml.token_type")) {
    auto types = f.get_int_array("tokenizer.ggml.token_type");
    if (!types) return Status::error(where + ": tokenizer.ggml.token_type is not an integer array");
    spec.types.assign(types->begin(), types->end());
  }
  spec.bos_id = opt_id(f, "tokenizer.ggml.bos_token_id");
  spec.eos_id = opt_id(f, "tokenizer.ggml.eos_token_id");
  spec.unk_id = opt_id(f, "tokenizer.ggml.unknown_token_id");
  if (*model == "gpt2") {
    spec.kind = TokenizerKind::kBpe;
    auto lines = f.get_string_array("tokenizer.ggml.merges");
    if (!lines) return Status::error(where + ": byte-level BPE vocabulary without tokenizer.ggml.merges");
    auto merges = parse_merges(*lines, where);
    if (!merges.ok()) return merges.status();
    spec.merges = std::move(*merges);
    // llama.cpp treats a missing pre name as "default" (GPT-2's regex) with a warning;
    // we refuse rather than silently split differently from the model's training.
    auto pre = f.get_string("tokenizer.ggml.pre");
    if (!pre) return Status::error(where + ": no tokenizer.ggml.pre: the pre-tokenizer is unknown");
    auto pspec = pretokenizer_spec(*pre);
    if (!pspec.ok()) return Status::error(where + ": " + pspec.message());
    spec.pre = std::move(*pspec);
    spec.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(false);
    spec.add_space_prefix = false;
  } else if (*model == "llama") {
    spec.kind = TokenizerKind::kSpm;
    auto scores = f.get_float_array("tokenizer.ggml.scores");
    if (!scores) return Status::error(where + ": SentencePiece vocabulary without tokenizer.ggml.scores");
    spec.scores = std::move(*scores);
    spec.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(true);
    spec.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    if (spec.unk_id < 0) spec.unk_id = 0;
  } else {
    return Status::error(where + ": tokenizer.ggml.model '" + *model +
                         "' is not supported (supported: gpt2 = byte-level BPE, llama = SentencePiece)");
  }
  return from_spec(std::move(spec));
}

}  // namespace dseek
