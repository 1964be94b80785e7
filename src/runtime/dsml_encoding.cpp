// See dsml_encoding.h. Written from DeepSeek's description of the V3.2
// encoding; the tests reproduce its published example conversations.
#include "runtime/dsml_encoding.h"

#include <cstddef>

namespace dseek {
namespace {

using dsml::flag;
using dsml::reasoning_of;
using dsml::role_of;
using dsml::text_of;

using nlohmann::json;
using nlohmann::ordered_json;

using dsml::kUser;
using dsml::kAssistant;
using dsml::kEos;
using dsml::kThinkOpen;
using dsml::kThinkClose;

// The tools section of the system prompt, as DeepSeek's encoding writes it.
constexpr std::string_view kToolsHead =
    "## Tools\n\nYou have access to a set of tools you can use to answer the user's question.\n"
    "You can invoke functions by writing a \"<｜DSML｜function_calls>\" block like the following as part of your reply to the user:\n"
    "<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"$FUNCTION_NAME\">\n"
    "<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</｜DSML｜parameter>\n...\n"
    "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"$FUNCTION_NAME2\">\n...\n</｜DSML｜invoke>\n</｜DSML｜function_calls>\n\n"
    "String and scalar parameters should be specified as is without any escaping or quotes, while lists and objects "
    "should use JSON format. The \"string\" attribute should be set to \"true\" for string type parameters and \"false\" "
    "for other types (numbers, booleans, arrays, objects).\n\n"
    "If the thinking_mode is enabled, then after function results you should strongly consider outputting a thinking "
    "block. Here is an example:\n\n<｜DSML｜function_calls>\n...\n</｜DSML｜function_calls>\n\n<function_results>\n...\n"
    "</function_results>\n\n<think>...thinking about results</think>\n\n"
    "Here are the functions available in JSONSchema format:\n<functions>\n";
constexpr std::string_view kToolsTail = "\n</functions>\n";

void append_python_json(const ordered_json& v, std::string& out) {
  if (v.is_object()) {
    out += '{';
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!first) out += ", ";
      first = false;
      out += ordered_json(it.key()).dump();
      out += ": ";
      append_python_json(it.value(), out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ", ";
      append_python_json(v[i], out);
    }
    out += ']';
  } else {
    out += v.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

std::string tools_section(const ordered_json& tools) {
  std::string s(kToolsHead);
  for (size_t i = 0; i < tools.size(); ++i) {
    const ordered_json& t = tools[i];
    const ordered_json& f = t.is_object() && t.contains("function") ? t["function"] : t;
    if (i) s += '\n';
    s += python_json(f);
  }
  s += kToolsTail;
  return s;
}

struct Conversation {
  json messages;
  bool thinking = false;
  bool generation_prompt = true;
  long last_user = -1;  // index of the last user or developer message
};

std::string opener(const Conversation& c, size_t i, std::string_view lead) {
  if (!c.generation_prompt && i + 1 == c.messages.size()) return {};
  const bool think = c.thinking && static_cast<long>(i) >= c.last_user;
  return std::string(lead) + std::string(think ? kThinkOpen : kThinkClose);
}

Result<std::string> render_tool_result(const Conversation& c, size_t i) {
  size_t a = i;
  while (a > 0 && role_of(c.messages[a - 1]) == "tool") --a;  // first result of this group
  if (a == 0 || role_of(c.messages[a - 1]) != "assistant")
    return Status::error("messages[" + std::to_string(i) + "]: a tool result must follow an assistant message with tool_calls");
  const json& calls = c.messages[a - 1].value("tool_calls", json::array());
  const size_t order = i - a + 1;
  if (!calls.is_array() || calls.size() < order)
    return Status::error("messages[" + std::to_string(i) + "]: more tool results than the assistant's tool_calls");
  std::string s = order == 1 ? "\n\n<function_results>" : "";
  s += "\n<result>" + text_of(c.messages[i], "content") + "</result>";
  if (order == calls.size()) s += "\n</function_results>" + opener(c, i, "\n\n");
  return s;
}

Result<std::string> render_calls(const json& calls) {
  std::string s = "\n\n" + std::string(dsml::kCallsBegin);
  for (const json& call : calls) {
    const json& f = call.is_object() && call.contains("function") ? call["function"] : call;
    auto params = dsml_parameters(f.value("arguments", json::object()));
    if (!params.ok()) return params.status();
    s += "\n" + std::string(dsml::kInvokeBegin) + text_of(f, "name") + "\">\n" + *params + "\n" + std::string(dsml::kInvokeEnd);
  }
  return s + "\n" + std::string(dsml::kCallsEnd);
}

Result<std::string> render_assistant(const Conversation& c, size_t i) {
  const json& m = c.messages[i];
  const json calls = m.value("tool_calls", json::array());
  const bool has_calls = calls.is_array() && !calls.empty();
  std::string tail;
  if (has_calls) {
    auto r = render_calls(calls);
    if (!r.ok()) return r.status();
    tail = std::move(r).value();
  }
  const bool prefix = flag(m, "prefix") && i + 1 == c.messages.size() && !has_calls;
  std::string s;
  if (c.thinking && static_cast<long>(i) > c.last_user && !prefix) s = reasoning_of(m) + std::string(kThinkClose);
  s += text_of(m, "content");
  if (prefix) return s;  // left open: the model continues this text
  return s + tail + std::string(kEos);
}

Result<std::string> render_message(const Conversation& c, size_t i, const ordered_json& tools) {
  const json& m = c.messages[i];
  const std::string role = role_of(m);
  const std::string content = text_of(m, "content");
  if (role == "system") return tools.empty() ? content : content + "\n\n" + tools_section(tools);
  if (role == "user") return std::string(kUser) + content + opener(c, i, kAssistant);
  if (role == "developer") {
    std::string body = tools.empty() ? "" : "\n\n" + tools_section(tools);
    return std::string(kUser) + body + "\n\n# The user's message is: " + content + opener(c, i, kAssistant);
  }
  if (role == "tool") return render_tool_result(c, i);
  if (role == "assistant") return render_assistant(c, i);
  return Status::error("messages[" + std::to_string(i) + "]: role '" + role + "' is not one DeepSeek-V3.2's encoding knows");
}

}  // namespace

namespace dsml {

std::string text_of(const json& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string role_of(const json& m) { return m.is_object() ? text_of(m, "role") : std::string(); }

bool flag(const json& m, const char* key) {
  auto it = m.find(key);
  return it != m.end() && it->is_boolean() && it->get<bool>();
}

std::string reasoning_of(const json& m) {
  return m.contains("reasoning_content") ? text_of(m, "reasoning_content") : text_of(m, "reasoning");
}

bool thinking_requested(const json& ctx) {
  auto truthy = [&](const char* key) {
    auto it = ctx.find(key);
    return it != ctx.end() && ((it->is_boolean() && it->get<bool>()) || (it->is_string() && *it == "thinking"));
  };
  return truthy("thinking") || truthy("enable_thinking") || truthy("thinking_mode");
}

size_t tools_carrier(json& messages, bool has_tools) {
  if (!has_tools) return messages.size();
  for (size_t i = 0; i < messages.size(); ++i)
    if (role_of(messages[i]) == "system") return i;
  messages.insert(messages.begin(), json{{"role", "system"}, {"content", ""}});
  return 0;
}

ordered_json tools_of(const ordered_json& context) {
  auto it = context.find("tools");
  return it != context.end() && it->is_array() ? *it : ordered_json::array();
}

}  // namespace dsml

std::string python_json(const ordered_json& value) {
  std::string out;
  append_python_json(value, out);
  return out;
}

Result<std::string> dsml_parameters(const json& arguments) {
  ordered_json args;
  if (arguments.is_string()) {  // OpenAI sends the arguments as JSON text; its key order is kept
    args = ordered_json::parse(arguments.get<std::string>(), nullptr, false);
    if (args.is_discarded()) return Status::error("tool_calls: arguments are not valid JSON");
  } else {
    args = ordered_json(arguments);
  }
  if (!args.is_object()) return Status::error("tool_calls: arguments must be a JSON object");
  std::string s;
  for (auto it = args.begin(); it != args.end(); ++it) {
    const bool is_string = it.value().is_string();
    if (!s.empty()) s += '\n';
    std::string value;
    if (is_string) value = it.value().get<std::string>();
    else append_python_json(it.value(), value);
    s += std::string(dsml::kParamBegin) + it.key() + "\" string=\"" + (is_string ? "true" : "false") + "\">" + value +
         std::string(dsml::kParamEnd);
  }
  return s;
}

Result<std::string> render_dsml_chat(const ordered_json& context) {
  const json ctx(context);  // key order only matters in the tools
  Conversation c;
  c.messages = ctx.value("messages", json::array());
  if (!c.messages.is_array()) return Status::error("messages must be an array");
  c.thinking = dsml::thinking_requested(ctx);
  c.generation_prompt = ctx.value("add_generation_prompt", true);
  const ordered_json tools = dsml::tools_of(context);
  const size_t tools_at = dsml::tools_carrier(c.messages, !tools.empty());  // the first system message carries the tools
  for (size_t i = 0; i < c.messages.size(); ++i) {
    const std::string role = role_of(c.messages[i]);
    if (role == "user" || role == "developer") c.last_user = static_cast<long>(i);
  }
  std::string out = ctx.contains("bos_token") && ctx["bos_token"].is_string() ? ctx["bos_token"].get<std::string>() : "";
  for (size_t i = 0; i < c.messages.size(); ++i) {
    auto r = render_message(c, i, i == tools_at ? tools : ordered_json::array());
    if (!r.ok()) return r.status();
    out += *r;
  }
  return out;
}

}  // namespace dseek
