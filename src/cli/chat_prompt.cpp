// TEMPORARY until the chat-template engine lands (issue 3): --chat reports that it is unavailable.
#include "cli/chat_prompt.h"

namespace dseek::cli {

Result<std::string> render_chat_prompt(const ModelFiles&, const Tokenizer&, const std::string&, const std::string&, bool) {
  return Status::error("--chat: the chat-template engine is not built yet");
}

}  // namespace dseek::cli
