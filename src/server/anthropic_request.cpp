// See anthropic_request.h.
#include "server/anthropic_request.h"

namespace dseek::server {

using nlohmann::json;

namespace {

using Converted = std::variant<json, ApiError>;

const json* field(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

// A block list's text (a string is one text block); other block types are an error unless allowed.
std::variant<std::string, ApiError> block_text(const json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return invalid(where + " must be a string or an array of content blocks", where);
  std::string out;
  for (const json& b : content) {
    if (!b.is_object() || b.value("type", "") != "text" || !b.contains("text") || !b["text"].is_string())
      return invalid(where + " may hold text blocks only here", where);
    out += b["text"].get<std::string>();
  }
  return out;
}

// A user turn: tool_result blocks become tool messages (first: they answer the
// previous assistant turn), the text blocks one user message.
std::optional<ApiError> user_turn(const json& content, const std::string& where, json& out) {
  if (content.is_string()) return out.push_back({{"role", "user"}, {"content", content}}), std::nullopt;
  if (!content.is_array()) return invalid(where + " must be a string or an array of content blocks", where);
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& b = content[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    const std::string type = b.is_object() ? b.value("type", "") : "";
    if (type == "text" && b.contains("text") && b["text"].is_string()) {
      text += b["text"].get<std::string>();
    } else if (type == "tool_result" && b.contains("tool_use_id") && b["tool_use_id"].is_string()) {
      auto r = b.contains("content") ? block_text(b["content"], at + ".content") : std::string();
      if (auto* e = std::get_if<ApiError>(&r)) return *e;
      std::string result = std::get<std::string>(r);
      if (b.value("is_error", false)) result = "Error: " + result;
      out.push_back({{"role", "tool"}, {"tool_call_id", b["tool_use_id"]}, {"content", result}});
    } else {
      return invalid(at + ": a user block must be text or tool_result (with tool_use_id); '" + type + "' is not supported", at);
    }
  }
  if (!text.empty()) out.push_back({{"role", "user"}, {"content", text}});
  return std::nullopt;
}

std::variant<json, ApiError> assistant_turn(const json& content, const std::string& where) {
  json msg = {{"role", "assistant"}, {"content", ""}};
  if (content.is_string()) return msg["content"] = content, msg;
  if (!content.is_array()) return invalid(where + " must be a string or an array of content blocks", where);
  std::string text, thinking;
  json calls = json::array();
  for (size_t i = 0; i < content.size(); ++i) {
    const json& b = content[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    const std::string type = b.is_object() ? b.value("type", "") : "";
    if (type == "text" && b.contains("text") && b["text"].is_string()) text += b["text"].get<std::string>();
    else if (type == "thinking" && b.contains("thinking") && b["thinking"].is_string()) thinking += b["thinking"].get<std::string>();
    else if (type == "redacted_thinking") continue;
    else if (type == "tool_use" && b.contains("name") && b["name"].is_string() && b.contains("input") && b["input"].is_object())
      calls.push_back({{"id", b.value("id", "toolu_" + std::to_string(i))}, {"type", "function"},
                       {"function", {{"name", b["name"]}, {"arguments", b["input"].dump()}}}});
    else
      return invalid(at + ": an assistant block must be text, thinking or tool_use (with name and an input object)", at);
  }
  msg["content"] = text;
  if (!thinking.empty()) msg["reasoning_content"] = thinking;
  if (!calls.empty()) msg["tool_calls"] = calls;
  return msg;
}

std::optional<ApiError> convert_messages(const json& body, json& out) {
  out = json::array();
  if (const json* sys = field(body, "system")) {
    auto t = block_text(*sys, "system");
    if (auto* e = std::get_if<ApiError>(&t)) return *e;
    out.push_back({{"role", "system"}, {"content", std::get<std::string>(t)}});
  }
  const json* msgs = field(body, "messages");
  if (!msgs || !msgs->is_array() || msgs->empty()) return invalid("messages: must be a non-empty array", "messages");
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string where = "messages." + std::to_string(i);
    if (!m.is_object() || !m.contains("role") || !m.contains("content")) return invalid(where + ": needs role and content", where);
    const std::string role = m["role"].is_string() ? m["role"].get<std::string>() : "";
    if (role == "user") {
      if (auto e = user_turn(m["content"], where + ".content", out)) return e;
    } else if (role == "assistant") {
      auto a = assistant_turn(m["content"], where + ".content");
      if (auto* e = std::get_if<ApiError>(&a)) return *e;
      out.push_back(std::get<json>(a));
    } else {
      return invalid(where + ".role: must be user or assistant", where + ".role");
    }
  }
  json& last = out.back();
  if (last["role"] == "assistant" && !last.contains("tool_calls")) last["prefix"] = true;  // prefill: continued
  return std::nullopt;
}

std::optional<ApiError> convert_tools(const json& body, json& out) {
  if (const json* tools = field(body, "tools")) {
    if (!tools->is_array()) return invalid("tools: must be an array", "tools");
    json list = json::array();
    for (const json& t : *tools) {
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
        return invalid("tools: each tool needs a name (server tools are not supported)", "tools");
      json fn = {{"name", t["name"]}, {"parameters", t.value("input_schema", json::object())}};
      if (t.contains("description")) fn["description"] = t["description"];
      list.push_back({{"type", "function"}, {"function", fn}});
    }
    if (!list.empty()) out["tools"] = list;
  }
  const json* tc = field(body, "tool_choice");
  if (!tc) return std::nullopt;
  const std::string type = tc->is_object() ? tc->value("type", "") : "";
  if (type == "auto" || type == "none") out["tool_choice"] = type;
  else if (type == "any") out["tool_choice"] = "required";
  else if (type == "tool" && tc->contains("name") && (*tc)["name"].is_string())
    out["tool_choice"] = {{"type", "function"}, {"function", {{"name", (*tc)["name"]}}}};
  else return invalid("tool_choice: must be {\"type\": auto | any | none} or {\"type\": \"tool\", \"name\": ...}", "tool_choice");
  if (tc->value("disable_parallel_tool_use", false)) out["parallel_tool_calls"] = false;
  return std::nullopt;
}

std::optional<ApiError> convert_thinking(const json& body, json& out) {
  const json* t = field(body, "thinking");
  if (!t) return std::nullopt;
  const std::string type = t->is_object() ? t->value("type", "") : "";
  if (type != "enabled" && type != "disabled")
    return invalid("thinking: must be {\"type\": \"enabled\", \"budget_tokens\": N} or {\"type\": \"disabled\"}", "thinking");
  if (type == "enabled" && (!t->contains("budget_tokens") || !(*t)["budget_tokens"].is_number_integer()))
    return invalid("thinking.budget_tokens: an integer is required", "thinking.budget_tokens");
  out["thinking"] = {{"type", type}};
  if (type == "enabled") out["thinking"]["budget_tokens"] = (*t)["budget_tokens"];  // honoured: reasoning ends there
  return std::nullopt;
}

}  // namespace

std::variant<json, ApiError> anthropic_to_openai(const json& body, bool count_tokens) {
  if (!body.is_object()) return invalid("the request body must be a JSON object");
  json out = json::object();
  if (auto e = convert_messages(body, out["messages"])) return *e;
  if (auto e = convert_tools(body, out)) return *e;
  if (auto e = convert_thinking(body, out)) return *e;
  if (const json* m = field(body, "model")) out["model"] = *m;
  if (count_tokens) return out;
  const json* mt = field(body, "max_tokens");
  if (!mt) return invalid("max_tokens: Field required", "max_tokens");
  out["max_tokens"] = *mt;
  for (const char* key : {"temperature", "top_p", "top_k", "stream"})
    if (const json* v = field(body, key)) out[key] = *v;
  if (const json* st = field(body, "stop_sequences")) out["stop"] = *st;
  return out;
}

json anthropic_error_body(const ApiError& e) {
  const char* type = e.status == 401   ? "authentication_error"
                     : e.status == 403 ? "permission_error"
                     : e.status == 404 ? "not_found_error"
                     : e.status == 413 ? "request_too_large"
                     : e.status == 429 ? "rate_limit_error"
                     : e.status == 503 || e.status == 529 ? "overloaded_error"
                     : e.status >= 500 ? "api_error"
                                       : "invalid_request_error";
  return {{"type", "error"}, {"error", {{"type", type}, {"message", e.message}}}};
}

std::variant<CompletionParams, ApiError> anthropic_completion_params(const std::string& text, bool count_tokens,
                                                                     const RequestLimits& limits) {
  if (json_depth(text) > limits.max_json_depth)
    return invalid("the request body nests deeper than " + std::to_string(limits.max_json_depth) + " levels");
  nlohmann::ordered_json body;  // order-keeping: the tool schemas are printed in the order sent
  try {
    body = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::ordered_json::exception&) {
    return invalid("the request body is not valid JSON");
  }
  auto converted = anthropic_to_openai(json(body), count_tokens);
  if (auto* e = std::get_if<ApiError>(&converted)) return *e;
  nlohmann::ordered_json request = std::get<json>(converted);
  if (request.contains("tools"))  // convert_tools maps tool i to tool i
    for (size_t i = 0; i < request["tools"].size(); ++i)
      if (body["tools"][i].contains("input_schema"))
        request["tools"][i]["function"]["parameters"] = body["tools"][i]["input_schema"];
  return parse_completion_request(request.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace), true,
                                  limits);
}

}  // namespace dseek::server
