// See deepseek_rules.h.
#include "server/deepseek_rules.h"

#include <array>

namespace dseek::server {

using nlohmann::json;

const GenerationRules& generation_rules(std::string_view arch) {
  static const std::array<GenerationRules, 4> kTable = {{
      {"deepseek-v3", false},  // V3, R1 and V3.1 share the architecture
      {"deepseek-v3.2", true},
      {"deepseek-v32", true},
      {"deepseek-v4", true},
  }};
  for (const auto& g : kTable)
    if (g.name == arch) return g;
  return kTable[0];
}

namespace {

bool has_tool_calls(const json& m) {
  auto it = m.find("tool_calls");
  return it != m.end() && it->is_array() && !it->empty();
}

bool has_reasoning(const json& m) {
  auto it = m.find("reasoning_content");
  return it != m.end() && it->is_string();
}

}  // namespace

std::optional<ApiError> apply_reasoning_rules(const GenerationRules& g, bool thinking, json& messages) {
  size_t last_user = 0;
  for (size_t i = 0; i < messages.size(); ++i)
    if (messages[i]["role"] == "user") last_user = i;
  for (size_t i = 0; i < messages.size(); ++i) {
    json& m = messages[i];
    if (m["role"] != "assistant") continue;
    const bool tool_turn = has_tool_calls(m);
    if (g.tool_turns_need_reasoning && thinking && tool_turn && !has_reasoning(m))
      return ApiError{400, "invalid_request_error",
                      "The reasoning_content in the thinking mode must be passed back to the API (messages[" +
                          std::to_string(i) + "] made tool calls without it)",
                      "messages[" + std::to_string(i) + "].reasoning_content", "missing_reasoning_content"};
    const bool keep = g.tool_turns_need_reasoning && thinking && tool_turn && i > last_user;
    const bool prefix = m.contains("prefix") && m["prefix"].is_boolean() && m["prefix"].get<bool>();
    if (!keep && !prefix) m.erase("reasoning_content");  // a prefix message's reasoning is continued, not dropped
  }
  return std::nullopt;
}

}  // namespace dseek::server
