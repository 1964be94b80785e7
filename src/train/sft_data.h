// Supervised fine-tuning data: conversations in the OpenAI `messages` format
// (one JSON object per line), rendered with the model's own chat template,
// tokenized, with a mask of the tokens the loss counts (the assistant turns,
// their end-of-turn markup included, so the model learns to stop).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/chat_prompt.h"
#include "tokenizer/tokenizer.h"

namespace dseek::train {

struct SftDocument {
  std::vector<int32_t> ids;
  std::vector<uint8_t> assistant;  // 1: the token is part of an assistant turn (a loss target)
};

// Plain text (`sft --text`, adapting a model to a language or domain): the
// file tokenized whole and cut into windows of `seq_len` tokens, every token a
// target, so the loss is ordinary next-token cross-entropy. An error names a
// file that cannot be read or holds fewer than two tokens.
std::vector<SftDocument> text_windows(const std::vector<int32_t>& ids, int64_t seq_len);
Result<std::vector<SftDocument>> read_text_documents(const std::string& path, const Tokenizer& tok, int64_t seq_len);

// One conversation. Assistant turn i covers the text between the rendering of
// messages[0..i) with the generation prompt and that of messages[0..i]
// without it; the template must render each conversation as a prefix of the
// next (every common template does), otherwise an error says so.
Result<SftDocument> render_conversation(const ChatFormat& format, const Tokenizer& tok, const nlohmann::json& messages);

// Every line of a JSONL file ({"messages": [...]}, blank lines skipped). Errors
// name the file and line: malformed JSON, no messages, an unknown role, a
// non-string content, a conversation without an assistant turn.
Result<std::vector<SftDocument>> read_sft_file(const std::string& path, const ChatFormat& format, const Tokenizer& tok);

// Documents packed whole into rows of `seq_len` tokens (a longer one is cut to
// seq_len). segment_starts are boundaries in the flattened rows (see
// LossOptions); targets[t] is the next token where it is an assistant token of
// the same document, else -1.
struct PackedBatch {
  std::vector<int32_t> tokens, targets;
  std::vector<int64_t> segment_starts;
  int64_t rows = 0;
};
// Rows start at document `first` (wrapping around); returns the index of the next unused document.
size_t pack_documents(const std::vector<SftDocument>& docs, size_t first, int64_t rows, int64_t seq_len,
                      int32_t pad_id, PackedBatch& out);

// One document alone as a batch of one row (cut to seq_len): for evaluation.
PackedBatch single_document(const SftDocument& doc, int64_t seq_len);

}  // namespace dseek::train
