// DeepSeek-V3.2's chat encoding. V3.2 ships no Jinja chat template; DeepSeek
// publishes the encoding as a description and a Python module instead
// (encoding/encoding_dsv32.py in the model repository). This renders the same
// prompt text from the same inputs a chat template gets, so `dseek template`,
// `run --chat` and the server use it like any other ChatFormat:
//   * roles: system (its text, then "\n\n## Tools…" when tools are given),
//     user "<｜User｜>TEXT<｜Assistant｜>" + think marker, developer (a user
//     turn whose text carries the tools), assistant
//     "[REASONING</think>]CONTENT[\n\nDSML CALLS]<｜end▁of▁sentence｜>", tool
//     "\n\n<function_results>\n<result>R</result>…\n</function_results>\n\n" + marker;
//   * thinking modes: "chat" ends each user turn with </think>, "thinking"
//     ends the last one with <think> (reasoning first) and keeps the reasoning
//     of the assistant turns after the last user message only;
//   * DSML tool calls: <｜DSML｜function_calls>, one <｜DSML｜invoke name="F">
//     per call, one <｜DSML｜parameter name="K" string="true|false"> per
//     argument: string values raw, all others as JSON.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace dseek {

namespace dsml {
inline constexpr std::string_view kCallsBegin = "<｜DSML｜function_calls>";
inline constexpr std::string_view kCallsEnd = "</｜DSML｜function_calls>";
inline constexpr std::string_view kInvokeBegin = "<｜DSML｜invoke name=\"";
inline constexpr std::string_view kInvokeEnd = "</｜DSML｜invoke>";
inline constexpr std::string_view kParamBegin = "<｜DSML｜parameter name=\"";
inline constexpr std::string_view kParamEnd = "</｜DSML｜parameter>";
// DeepSeek-V4 names the block tool_calls; invoke and parameter lines are V3.2's.
inline constexpr std::string_view kV4CallsBegin = "<｜DSML｜tool_calls>";
inline constexpr std::string_view kV4CallsEnd = "</｜DSML｜tool_calls>";
// The turn and reasoning markers both encodings write.
inline constexpr std::string_view kUser = "<｜User｜>";
inline constexpr std::string_view kAssistant = "<｜Assistant｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";
}  // namespace dsml

// Renders a chat-template context: messages, tools (their schemas printed in
// the order they are given, as DeepSeek's encoder's json.dumps does: the
// context is an ordered_json so that a request's key order survives) (added to the first system
// message, or to a new empty one first), add_generation_prompt (the opener
// after the last user turn or tool result), bos_token, and the thinking switch
// ("thinking" or "enable_thinking" true: thinking mode; default chat mode).
// An assistant message with "prefix": true that ends the conversation is left
// open for the model to continue. Errors name the message that breaks the
// encoding's rules (a tool result without a call, an unknown role, ...).
Result<std::string> render_dsml_chat(const nlohmann::ordered_json& context);

// DeepSeek-V4's encoding (encoding/encoding_dsv4.py; runtime/dsml_v4_encoding.cpp
// lists where it differs from V3.2's), from the same context. Also reads
// "reasoning_effort" ("max" in thinking mode prepends DeepSeek's paragraph).
Result<std::string> render_dsml_v4_chat(const nlohmann::ordered_json& context);

// One call's parameters as DSML: "name" -> `arguments` (a JSON object, or its
// text) as one parameter line per key, joined by "\n".
Result<std::string> dsml_parameters(const nlohmann::json& arguments);

// Shared by the V3.2 and V4 encoders.
namespace dsml {
// m[key] as text ("" when absent or null; JSON text when not a string).
std::string text_of(const nlohmann::json& m, const char* key);
std::string role_of(const nlohmann::json& m);
bool flag(const nlohmann::json& m, const char* key);  // m[key] is true
std::string reasoning_of(const nlohmann::json& m);     // reasoning_content, else reasoning
// "thinking", "enable_thinking" true or "thinking_mode" "thinking" in the context.
bool thinking_requested(const nlohmann::json& ctx);
// The message that carries the tools section: the first system message, or a
// new empty one put first (messages.size() when there are no tools).
size_t tools_carrier(nlohmann::json& messages, bool has_tools);
// The context's tools array as given (empty when absent).
nlohmann::ordered_json tools_of(const nlohmann::ordered_json& context);
}  // namespace dsml

// Python's json.dumps(value, ensure_ascii=False): ", " and ": " separators,
// keys in the value's own order (no sort_keys).
std::string python_json(const nlohmann::ordered_json& value);

}  // namespace dseek
