// See chat_prompt.h.
#include "cli/chat_prompt.h"

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/chat_template.h"

namespace dseek::cli {

Result<std::string> render_chat_prompt(const ModelFiles& files, const Tokenizer& tok, const std::string& system,
                                       const std::string& user, bool thinking) {
  auto src = load_chat_template(files.path);
  if (!src.ok()) return Status::error("--chat: " + src.message());
  auto tmpl = ChatTemplate::parse(src->source);
  if (!tmpl.ok()) return Status::error("--chat: the model's chat template: " + tmpl.message());
  nlohmann::json messages = nlohmann::json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", user}});
  auto text_of = [&](int32_t id) { return id >= 0 ? std::string(tok.token_text(id)) : std::string(); };
  const nlohmann::json ctx = {{"messages", messages},
                              {"add_generation_prompt", true},
                              {"bos_token", src->bos_token.empty() ? text_of(tok.bos_id()) : src->bos_token},
                              {"eos_token", src->eos_token.empty() ? text_of(tok.eos_id()) : src->eos_token},
                              {"thinking", thinking},
                              {"enable_thinking", thinking}};
  return tmpl->render(ctx);
}

}  // namespace dseek::cli
