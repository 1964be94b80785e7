// DeepSeek-V4's chat encoding (dsml_encoding.h: render_dsml_v4_chat), written
// from DeepSeek's description of encoding/encoding_dsv4.py. Shared with V3.2's
// encoder: BOS, the role tokens, assistant turns "[REASONING</think>]CONTENT
// [\n\nCALLS]<｜end▁of▁sentence｜>", DSML invoke / parameter lines
// (dsml_parameters), one-line Python JSON for tool schemas. What V4 changes:
//   * the block is <｜DSML｜tool_calls> and the tools section has V4's wording,
//     schemas under "### Available Tool Schemas", one JSON line each;
//   * no tool role: results are "<tool_result>R</tool_result>" blocks of a user
//     turn, joined by blank lines (a user message right after them joins the
//     same turn), in the order of the calls they answer;
//   * with tools, every assistant turn keeps its reasoning and every user turn
//     opens <think> (thinking mode); without, turns before the last user message
//     lose their reasoning and earlier developer messages are dropped;
//   * a user turn opens the assistant only when an assistant or a latest_reminder
//     message follows it, or it is the last;
//   * role latest_reminder ("<｜latest_reminder｜>TEXT"); reasoning_effort "max"
//     (thinking mode) puts DeepSeek's paragraph before the first message.
#include <algorithm>
#include <map>

#include "runtime/dsml_encoding.h"

namespace dseek {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using dsml::reasoning_of;
using dsml::role_of;
using dsml::text_of;

using dsml::kUser;
using dsml::kAssistant;
using dsml::kEos;
using dsml::kThinkOpen;
using dsml::kThinkClose;
constexpr std::string_view kReminder = "<｜latest_reminder｜>";

constexpr std::string_view kToolsHead =
    "## Tools\n\nYou have access to a set of tools to help answer the user's question. You can invoke tools by writing "
    "a \"<｜DSML｜tool_calls>\" block like the following:\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"$TOOL_NAME\">\n"
    "<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</｜DSML｜parameter>\n...\n"
    "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"$TOOL_NAME2\">\n...\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>\n\n"
    "String parameters should be specified as is and set `string=\"true\"`. For all other types (numbers, booleans, "
    "arrays, objects), pass the value in JSON format and set `string=\"false\"`.\n\n"
    "If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside "
    "<think>...</think> BEFORE any tool calls or final response.\n\n"
    "Otherwise, output directly after </think> with tool calls or final response.\n\n### Available Tool Schemas\n\n";
constexpr std::string_view kToolsTail =
    "\n\nYou MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.\n";
constexpr std::string_view kEffortMax =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, "
    "rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, considered "
    "alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";

std::string tools_section(const ordered_json& tools) {
  std::string s(kToolsHead);
  for (size_t i = 0; i < tools.size(); ++i) {
    const ordered_json& t = tools[i];
    if (i) s += '\n';
    s += python_json(t.is_object() && t.contains("function") ? t["function"] : t);
  }
  return s + std::string(kToolsTail);
}

// A tool result's text; OpenAI content parts are joined by blank lines.
std::string result_text(const json& m) {
  const json& c = m.contains("content") ? m["content"] : json();
  if (!c.is_array()) return text_of(m, "content");
  std::string s;
  for (const json& part : c) {
    if (!s.empty()) s += "\n\n";
    s += part.value("type", "") == "text" ? text_of(part, "text") : "[Unsupported " + text_of(part, "type") + "]";
  }
  return s;
}

// Tool results become blocks of a user turn; user messages join a turn of blocks.
json merge_tool_results(const json& messages) {
  json out = json::array();
  for (const json& m : messages) {
    const std::string role = role_of(m);
    const bool joins = !out.empty() && out.back().contains("blocks");
    json block;
    if (role == "tool") block = {{"text", "<tool_result>" + result_text(m) + "</tool_result>"}, {"id", text_of(m, "tool_call_id")}};
    else if (role == "user") block = {{"text", text_of(m, "content")}};
    else {
      out.push_back(m);
      continue;
    }
    if (joins) out.back()["blocks"].push_back(block);
    else out.push_back({{"role", "user"}, {"blocks", json::array({block})}});
  }
  return out;
}

// Result blocks of each user turn in the order of the last assistant's calls.
void sort_results(json& messages) {
  std::map<std::string, int> order;
  for (json& m : messages) {
    if (role_of(m) == "assistant" && m.contains("tool_calls") && m["tool_calls"].is_array() && !m["tool_calls"].empty()) {
      order.clear();
      int i = 0;
      for (const json& call : m["tool_calls"]) order[text_of(call, "id")] = i++;
    }
    if (!m.contains("blocks")) continue;
    std::vector<size_t> slots;
    std::vector<json> results;
    for (size_t i = 0; i < m["blocks"].size(); ++i)
      if (m["blocks"][i].contains("id")) slots.push_back(i), results.push_back(m["blocks"][i]);
    auto rank = [&](const json& b) { auto it = order.find(text_of(b, "id")); return it == order.end() ? 0 : it->second; };
    std::stable_sort(results.begin(), results.end(), [&](const json& a, const json& b) { return rank(a) < rank(b); });
    for (size_t k = 0; k < slots.size(); ++k) m["blocks"][slots[k]] = results[k];
  }
}

long last_user_index(const json& messages) {
  for (size_t i = messages.size(); i-- > 0;)
    if (role_of(messages[i]) == "user" || role_of(messages[i]) == "developer") return static_cast<long>(i);
  return -1;
}

// Thinking mode without tools: earlier turns lose their reasoning, earlier developer messages go.
json drop_old_thinking(const json& messages) {
  const long last = last_user_index(messages);
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string role = role_of(messages[i]);
    if (static_cast<long>(i) >= last || role == "user" || role == "system" || role == "latest_reminder") {
      out.push_back(messages[i]);
    } else if (role == "assistant") {
      json m = messages[i];
      m.erase("reasoning_content"), m.erase("reasoning");
      out.push_back(std::move(m));
    }
  }
  return out;
}

struct Conversation {
  json messages;
  bool thinking = false, keep_reasoning = false, generation_prompt = true;
  long last_user = -1;
};

Result<std::string> render_calls(const json& calls) {
  std::string s = "\n\n" + std::string(dsml::kV4CallsBegin);
  for (const json& call : calls) {
    const json& f = call.is_object() && call.contains("function") ? call["function"] : call;
    auto params = dsml_parameters(f.value("arguments", json::object()));
    if (!params.ok()) return params.status();
    s += "\n" + std::string(dsml::kInvokeBegin) + text_of(f, "name") + "\">\n" + *params + "\n" + std::string(dsml::kInvokeEnd);
  }
  return s + "\n" + std::string(dsml::kV4CallsEnd);
}

Result<std::string> render_assistant(const Conversation& c, size_t i) {
  const json& m = c.messages[i];
  const json calls = m.value("tool_calls", json::array());
  const bool has_calls = calls.is_array() && !calls.empty();
  const bool prefix = dsml::flag(m, "prefix") && i + 1 == c.messages.size() && !has_calls;
  std::string s;
  if (c.thinking && !prefix && (c.keep_reasoning || static_cast<long>(i) > c.last_user))
    s = reasoning_of(m) + std::string(kThinkClose);
  s += text_of(m, "content");
  if (prefix) return s;  // left open: the model continues this text
  if (has_calls) {
    auto r = render_calls(calls);
    if (!r.ok()) return r.status();
    s += *r;
  }
  return s + std::string(kEos);
}

// What follows a user or developer turn: the assistant's opener, unless another user-side message comes next.
std::string opener(const Conversation& c, size_t i) {
  if (i + 1 < c.messages.size()) {
    const std::string next = role_of(c.messages[i + 1]);
    if (next != "assistant" && next != "latest_reminder") return {};
  } else if (!c.generation_prompt) {
    return {};
  }
  const bool think = c.thinking && (c.keep_reasoning || static_cast<long>(i) >= c.last_user);
  return std::string(kAssistant) + std::string(think ? kThinkOpen : kThinkClose);
}

Result<std::string> render_message(const Conversation& c, size_t i, const ordered_json& tools) {
  const json& m = c.messages[i];
  const std::string role = role_of(m);
  const std::string with_tools = tools.empty() ? std::string() : "\n\n" + tools_section(tools);
  if (role == "system") return text_of(m, "content") + with_tools;
  if (role == "latest_reminder") return std::string(kReminder) + text_of(m, "content");
  if (role == "assistant") return render_assistant(c, i);
  if (role == "developer") return std::string(kUser) + text_of(m, "content") + with_tools + opener(c, i);
  if (role != "user") return Status::error("messages[" + std::to_string(i) + "]: role '" + role + "' is not one DeepSeek-V4's encoding knows");
  std::string s(kUser);
  for (size_t b = 0; b < m["blocks"].size(); ++b) s += (b ? "\n\n" : "") + text_of(m["blocks"][b], "text");
  return s + opener(c, i);
}

}  // namespace

Result<std::string> render_dsml_v4_chat(const ordered_json& context) {
  const json ctx(context);  // key order only matters in the tools
  json messages = ctx.value("messages", json::array());
  if (!messages.is_array()) return Status::error("messages must be an array");
  for (size_t i = 0; i < messages.size(); ++i)
    if (role_of(messages[i]) == "tool" && (i == 0 || (role_of(messages[i - 1]) != "assistant" && role_of(messages[i - 1]) != "tool")))
      return Status::error("messages[" + std::to_string(i) + "]: a tool result must follow an assistant message with tool_calls");
  const ordered_json tools = dsml::tools_of(context);
  Conversation c;
  c.thinking = dsml::thinking_requested(ctx);
  c.keep_reasoning = !tools.empty();  // DeepSeek keeps every turn's reasoning once tools are in play
  c.generation_prompt = ctx.value("add_generation_prompt", true);
  c.messages = merge_tool_results(messages);
  sort_results(c.messages);
  const size_t tools_at = dsml::tools_carrier(c.messages, !tools.empty());
  if (c.thinking && !c.keep_reasoning) c.messages = drop_old_thinking(c.messages);
  c.last_user = last_user_index(c.messages);
  std::string out = ctx.contains("bos_token") && ctx["bos_token"].is_string() ? ctx["bos_token"].get<std::string>() : "";
  if (c.thinking && ctx.value("reasoning_effort", json()).is_string() && ctx["reasoning_effort"] == "max") out += kEffortMax;
  for (size_t i = 0; i < c.messages.size(); ++i) {
    auto r = render_message(c, i, i == tools_at ? tools : ordered_json::array());
    if (!r.ok()) return r.status();
    out += *r;
  }
  return out;
}

}  // namespace dseek
