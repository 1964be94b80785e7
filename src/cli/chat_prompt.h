// Building a chat prompt for `dseek run --chat`: the model's own chat template
// (GGUF tokenizer.chat_template or tokenizer_config.json) rendered with one
// optional system message and one user message, generation prompt on.
#pragma once

#include <string>

#include "core/status.h"
#include "model/model_files.h"
#include "tokenizer/tokenizer.h"

namespace dseek::cli {

Result<std::string> render_chat_prompt(const ModelFiles& files, const Tokenizer& tok, const std::string& system,
                                       const std::string& user, bool thinking);

}  // namespace dseek::cli
