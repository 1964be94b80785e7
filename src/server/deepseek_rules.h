// What each DeepSeek model generation expects of the reasoning_content that
// clients send back in earlier assistant messages, as data (DeepSeek's API docs,
// "Thinking Mode"):
//   * a turn without tool calls: its reasoning is dropped from the next prompt
//     (every generation; the V3 / R1 / V3.1 templates never render it);
//   * V3.2 and V4 in thinking mode: an assistant turn that made tool calls must
//     carry its reasoning_content in every later request, or the request is a
//     400 ("The reasoning_content in the thinking mode must be passed back to
//     the API."); the reasoning of the tool-call turns after the last user
//     message stays in the prompt.
#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace dseek::server {

struct GenerationRules {
  std::string_view name;
  bool tool_turns_need_reasoning = false;  // V3.2 / V4: the 400 above, and their reasoning is kept
};

// The rules for a model architecture name ("deepseek-v3", "deepseek-v3.2", "deepseek-v4", ...).
const GenerationRules& generation_rules(std::string_view arch);

// For a chat request with thinking on or off: DeepSeek's 400 when a required
// reasoning_content is missing; otherwise drops reasoning_content from the
// messages whose reasoning the generation does not keep.
std::optional<ApiError> apply_reasoning_rules(const GenerationRules& g, bool thinking, nlohmann::json& messages);

}  // namespace dseek::server
