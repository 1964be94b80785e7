// Building a chat prompt with the model's own chat template: one builder for
// `dseek run --chat` and the server's /v1/chat/completions. The template is
// rendered with the messages, the generation prompt on, and the model's BOS /
// EOS text; the result is tokenized with the template's markup as control
// tokens. Message text from an untrusted client (MessageText::kPlainText) is
// encoded as plain text even where it spells a control token.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dseek {

// A model's chat template and the BOS / EOS text it renders with.
struct ChatFormat {
  ChatTemplate tmpl;
  std::string bos_text, eos_text;

  // Parses `src`; BOS / EOS text is the source's own, else the tokenizer's BOS / EOS token text.
  static Result<ChatFormat> parse(const ChatTemplateSource& src, const Tokenizer& tok);
  // Renders `context` with bos_token and eos_token set.
  Result<std::string> render(nlohmann::json context) const;
};

enum class MessageText {
  kMarkup,     // trusted (the command line): control-token text in a message becomes the token
  kPlainText,  // untrusted (an API client): message text is never a control token
};

struct ChatPromptInput {
  nlohmann::json messages = nlohmann::json::array();        // [{role, content (string), ...}]
  nlohmann::json template_kwargs = nlohmann::json::object();  // extra template variables; "thinking" also sets "enable_thinking"
  nlohmann::json tools;                                      // null: none
  MessageText text = MessageText::kPlainText;
};

struct ChatPrompt {
  std::vector<int32_t> ids;
  bool starts_in_reasoning = false;  // the rendered prompt ends inside an opened <think> block
};

Result<ChatPrompt> build_chat_prompt(const ChatFormat& format, const Tokenizer& tok, const ChatPromptInput& in);

}  // namespace dseek
