// ChatTemplate: a model's Jinja chat template, parsed once and rendered for a
// conversation (messages, tools, add_generation_prompt, bos/eos token text and
// any extra variables such as `thinking`), byte-identical to transformers'
// apply_chat_template. Plus finding a model's template and BOS/EOS text.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace dseek {

namespace jinja {
struct Node;
}

class ChatTemplate {
 public:
  static Result<ChatTemplate> parse(std::string_view source);
  Result<std::string> render(const nlohmann::json& context) const;

 private:
  std::shared_ptr<const std::vector<std::unique_ptr<jinja::Node>>> body_;
};

struct ChatTemplateSource {
  std::string source;
  std::string bos_token, eos_token;
};

// A GGUF file (tokenizer.chat_template; BOS/EOS text from the vocabulary), a
// tokenizer_config.json, or a directory holding one.
Result<ChatTemplateSource> load_chat_template(const std::string& path);

}  // namespace dseek
