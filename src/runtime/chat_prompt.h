// Building a chat prompt with the model's own chat template: one builder for
// `dseek run --chat` and the server's /v1/chat/completions. The template is
// rendered with the messages, the generation prompt on, and the model's BOS /
// EOS text; the result is tokenized with the template's markup as control
// tokens. Message text from an untrusted client (MessageText::kPlainText) is
// encoded as plain text even where it spells a control token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dseek {

// How a chat is turned into prompt text: a Jinja template (the model's own),
// or DeepSeek-V3.2's / V4's built-in encoding (runtime/dsml_encoding.h), which
// ship as code instead of a template.
enum class ChatEncoding { kJinja, kDsml, kDsmlV4 };

// A model's chat template and the BOS / EOS text it renders with.
struct ChatFormat {
  ChatTemplate tmpl;  // unused with kDsml
  std::string bos_text, eos_text;
  ChatEncoding encoding = ChatEncoding::kJinja;

  // Parses `src`; BOS / EOS text is the source's own, else the tokenizer's BOS / EOS token text.
  static Result<ChatFormat> parse(const ChatTemplateSource& src, const Tokenizer& tok);
  // DeepSeek-V3.2's encoding (or another built-in one) with the tokenizer's BOS / EOS text.
  static ChatFormat dsml(const Tokenizer& tok, ChatEncoding encoding = ChatEncoding::kDsml);
  // Renders `context` with bos_token and eos_token set. Ordered, so that the
  // built-in encodings print tool schemas in the order they were sent.
  Result<std::string> render(nlohmann::ordered_json context) const;
};

// `--chat-format` values: "auto" (the model's template; DeepSeek-V3.2's or
// V4's encoding for a deepseek-v32 / deepseek-v4 model without one of its own,
// i.e. with none or with dseek's stand-in for generated models), "template",
// "dsml" (V3.2's) or "dsml-v4".
bool valid_chat_format_name(std::string_view name);
// The encoding "auto" picks for this model (`src`: its template, if any);
// `arch` "" reads the architecture from the files through the model registry.
ChatEncoding default_chat_encoding(const Result<ChatTemplateSource>& src, const std::string& model_path,
                                   std::string_view arch);
// Whether "auto" picks a built-in DSML encoding (V3.2's or V4's) for this model.
bool uses_dsml_by_default(const Result<ChatTemplateSource>& src, const std::string& model_path, std::string_view arch);
// The built-in encoding a --chat-format value names (kJinja for "auto" / "template").
ChatEncoding named_chat_encoding(std::string_view choice);
// The chat format of the model at `model_path` (GGUF, tokenizer_config.json or
// directory); `arch` is the loaded model's architecture name ("" when unknown:
// then read from the files).
Result<ChatFormat> load_chat_format(const std::string& model_path, const Tokenizer& tok, std::string_view choice,
                                    std::string_view arch);
// The dseek architecture name of the model files at `path` ("deepseek-v4", ...)
// as the model registry reads them; "" when they do not load as one.
std::string model_architecture_name(const std::string& path);

enum class MessageText {
  kMarkup,     // trusted (the command line): control-token text in a message becomes the token
  kPlainText,  // untrusted (an API client): message text is never a control token
};

struct ChatPromptInput {
  nlohmann::json messages = nlohmann::json::array();        // [{role, content (string), ...}]
  nlohmann::json template_kwargs = nlohmann::json::object();  // extra template variables; "thinking" also sets "enable_thinking"
  nlohmann::ordered_json tools;                              // null: none; keys in the request's order
  MessageText text = MessageText::kPlainText;
};

struct ChatPrompt {
  std::vector<int32_t> ids;
  bool starts_in_reasoning = false;  // the rendered prompt ends inside an opened <think> block
};

Result<ChatPrompt> build_chat_prompt(const ChatFormat& format, const Tokenizer& tok, const ChatPromptInput& in);

}  // namespace dseek
