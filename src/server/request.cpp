// See request.h.
#include "server/request.h"

#include "server/request_deepseek.h"

#include <cmath>

namespace dseek::server {

using nlohmann::json;

int json_depth(const std::string& body) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escape = false;
  for (char c : body) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') max_depth = std::max(max_depth, ++depth);
    else if (c == '}' || c == ']') --depth;
  }
  return max_depth;
}

namespace {

// Field readers: absent or null -> keep the default; wrong type -> error.
struct Reader {
  const json& j;
  std::optional<ApiError> error;

  const json* get(const char* key) {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  void fail(const std::string& msg, const char* param) {
    if (!error) error = invalid(msg, param);
  }
  void boolean(const char* key, bool& out) {
    if (const json* v = get(key)) {
      if (v->is_boolean()) out = v->get<bool>();
      else fail(std::string("'") + key + "' must be a boolean", key);
    }
  }
  bool number(const char* key, double lo, double hi, double& out) {
    const json* v = get(key);
    if (!v) return false;
    if (!v->is_number()) return fail(std::string("'") + key + "' must be a number", key), false;
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) {
      fail(std::string("'") + key + "' is " + v->dump() + "; it must be between " + json(lo).dump() + " and " + json(hi).dump(), key);
      return false;
    }
    out = x;
    return true;
  }
  bool integer(const char* key, int64_t lo, int64_t hi, int64_t& out) {
    const json* v = get(key);
    if (!v) return false;
    if (!v->is_number_integer() && !(v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()))
      return fail(std::string("'") + key + "' must be an integer", key), false;
    const double x = v->get<double>();
    if (x < static_cast<double>(lo) || x > static_cast<double>(hi)) {
      fail(std::string("'") + key + "' is " + v->dump() + "; it must be between " + std::to_string(lo) + " and " + std::to_string(hi), key);
      return false;
    }
    out = v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(x);
    return true;
  }
};

// Message content: a string, or an array of {"type": "text", "text": ...} parts.
std::optional<std::string> content_text(const json& c, std::string& why) {
  if (c.is_string()) return c.get<std::string>();
  if (c.is_null()) return std::string();
  if (!c.is_array()) return why = "must be a string or an array of content parts", std::nullopt;
  std::string out;
  for (const json& part : c) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      return why = "has a content part without a 'type'", std::nullopt;
    if (part["type"] != "text") return why = "has a '" + part["type"].get<std::string>() + "' part; this server handles text only", std::nullopt;
    if (!part.contains("text") || !part["text"].is_string()) return why = "has a text part without a 'text' string", std::nullopt;
    out += part["text"].get<std::string>();
  }
  return out;
}

std::optional<ApiError> parse_messages(const json& body, json& out) {
  auto it = body.find("messages");
  if (it == body.end()) return invalid("'messages' is required", "messages");
  if (!it->is_array()) return invalid("'messages' must be an array", "messages");
  if (it->empty()) return invalid("'messages' must contain at least one message", "messages");
  out = json::array();
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid(where + " must be an object", where);
    if (!m.contains("role") || !m["role"].is_string()) return invalid(where + ".role must be a string", where + ".role");
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool")
      return invalid(where + ".role '" + role + "' is not one of system, user, assistant, tool", where + ".role");
    json msg = m;
    msg["role"] = role;
    std::string why;
    auto text = content_text(m.contains("content") ? m["content"] : json(nullptr), why);
    if (!text) return invalid(where + ".content " + why, where + ".content");
    msg["content"] = *text;
    if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
      if (!m["tool_calls"].is_array()) return invalid(where + ".tool_calls must be an array", where + ".tool_calls");
      for (const json& tc : m["tool_calls"])
        if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object() ||
            !tc["function"].contains("name") || !tc["function"]["name"].is_string())
          return invalid(where + ".tool_calls entries need function.name", where + ".tool_calls");
    }
    out.push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> parse_tools(const json& body, CompletionParams& p) {
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return invalid("'tools' must be an array", "tools");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& t = (*it)[i];
      const std::string where = "tools[" + std::to_string(i) + "]";
      if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") || !t["function"].is_object())
        return invalid(where + " must be {\"type\": \"function\", \"function\": {...}}", where);
      if (!t["function"].contains("name") || !t["function"]["name"].is_string() || t["function"]["name"].get<std::string>().empty())
        return invalid(where + ".function.name must be a non-empty string", where + ".function.name");
    }
    if (!it->empty()) p.tools = *it;
  }
  std::string choice = "auto";
  if (auto it = body.find("tool_choice"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      choice = it->get<std::string>();
      if (choice != "none" && choice != "auto" && choice != "required")
        return invalid("'tool_choice' must be none, auto, required or a function", "tool_choice");
    } else if (!it->is_object() || !it->contains("function") || !(*it)["function"].is_object() ||
               !(*it)["function"].contains("name") || !(*it)["function"]["name"].is_string()) {
      return invalid("'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
    } else {
      choice = "function";
      p.forced_tool = (*it)["function"]["name"].get<std::string>();
      bool known = false;
      for (const auto& t : p.tools) known |= t["function"]["name"] == p.forced_tool;
      if (!known) return invalid("'tool_choice' names '" + p.forced_tool + "', which is not in 'tools'", "tool_choice");
    }
  }
  if (choice != "none" && choice != "auto" && p.tools.is_null())
    return invalid("'tool_choice' asks for a tool but 'tools' is empty", "tool_choice");
  p.tools_enabled = !p.tools.is_null() && choice != "none";
  p.tool_choice = choice;
  return std::nullopt;
}

// Each step below reads its fields in the order the API documents them. A
// step returns an error at once for a malformed structure; a field of the
// wrong type or range is noted in the Reader (the first one wins) and
// reported after every step ran, so the precedence of errors is fixed.
using Step = std::optional<ApiError>;

std::variant<json, ApiError> parse_body(const std::string& body_text, const RequestLimits& limits) {
  if (json_depth(body_text) > limits.max_json_depth)
    return invalid("the request body nests deeper than " + std::to_string(limits.max_json_depth) + " levels");
  json body;
  try {
    body = json::parse(body_text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers beyond a double (1e999)
    std::string why = e.what();  // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    if (const size_t p = why.find("] "); p != std::string::npos) why = why.substr(p + 2);
    return invalid("the request body is not valid JSON: " + why);
  }
  if (!body.is_object()) return invalid("the request body must be a JSON object");
  return body;
}

Step parse_chat_fields(const json& body, Reader& r, CompletionParams& p) {
  if (auto e = parse_messages(body, p.messages)) return e;
  if (auto e = parse_tools(body, p)) return e;
  r.boolean("parallel_tool_calls", p.parallel_tool_calls);
  if (const json* k = r.get("chat_template_kwargs")) {
    if (!k->is_object()) return invalid("'chat_template_kwargs' must be an object", "chat_template_kwargs");
    p.template_kwargs = *k;
  }
  if (auto e = parse_reasoning_switch(body, p)) return e;
  return parse_prefix_message(p);
}

Step parse_stream(Reader& r, CompletionParams& p) {
  r.boolean("stream", p.stream);
  if (const json* so = r.get("stream_options")) {
    if (!so->is_object()) return invalid("'stream_options' must be an object", "stream_options");
    Reader sr{*so, std::nullopt};
    sr.boolean("include_usage", p.include_usage);
    if (sr.error) return *sr.error;
  }
  return std::nullopt;
}

Step parse_sampling(Reader& r, const RequestLimits& limits, CompletionParams& p) {
  int64_t mt = -1;
  if (r.integer("max_completion_tokens", 1, limits.max_tokens, mt) || r.integer("max_tokens", 1, limits.max_tokens, mt))
    p.max_tokens = mt;
  double d = 0;
  p.sampling.temperature = 1.0f;  // OpenAI's default
  if (r.number("temperature", 0, 2, d)) p.sampling.temperature = static_cast<float>(d);
  if (r.number("top_p", 0, 1, d)) p.sampling.top_p = d == 0 ? 1e-9f : static_cast<float>(d);
  if (r.number("min_p", 0, 1, d)) p.sampling.min_p = static_cast<float>(d);
  if (r.number("presence_penalty", -2, 2, d)) p.sampling.presence_penalty = static_cast<float>(d);
  if (r.number("frequency_penalty", -2, 2, d)) p.sampling.frequency_penalty = static_cast<float>(d);
  if (r.number("repetition_penalty", 0.01, 10, d)) p.sampling.repetition_penalty = static_cast<float>(d);
  int64_t i = 0;
  if (r.integer("top_k", 0, 1 << 20, i)) p.sampling.top_k = static_cast<int32_t>(i);
  if (const json* s = r.get("seed")) {
    if (!s->is_number_integer()) return invalid("'seed' must be an integer", "seed");
    p.sampling.seed = s->is_number_unsigned() ? s->get<uint64_t>() : static_cast<uint64_t>(s->get<int64_t>());
  } else {
    p.sampling.seed = 0x5EED;
  }
  return std::nullopt;
}

Step parse_choices(Reader& r, bool chat, const RequestLimits& limits, CompletionParams& p) {
  int64_t i = 0;
  if (r.integer("n", 1, limits.max_n, i)) p.n = i;
  if (const json* lp = r.get("logprobs")) {
    if (chat) {
      r.boolean("logprobs", p.logprobs);
    } else if (lp->is_number_integer() && lp->get<int64_t>() >= 0 && lp->get<int64_t>() <= 20) {  // legacy: an int
      p.logprobs = true;
      p.top_logprobs = static_cast<int32_t>(lp->get<int64_t>());
    } else {
      return invalid("'logprobs' must be an integer between 0 and 20", "logprobs");
    }
  }
  if (r.integer("top_logprobs", 0, 20, i)) {
    if (!p.logprobs) return invalid("'top_logprobs' needs 'logprobs': true", "top_logprobs");
    p.top_logprobs = static_cast<int32_t>(i);
  }
  return std::nullopt;
}

Step parse_stop(Reader& r, const RequestLimits& limits, CompletionParams& p) {
  const json* st = r.get("stop");
  if (!st) return std::nullopt;
  if (st->is_string()) p.stop.push_back(st->get<std::string>());
  else if (st->is_array()) {
    for (const json& s : *st) {
      if (!s.is_string()) return invalid("'stop' must be a string or an array of strings", "stop");
      p.stop.push_back(s.get<std::string>());
    }
  } else {
    return invalid("'stop' must be a string or an array of strings", "stop");
  }
  if (p.stop.size() > limits.max_stop) return invalid("'stop' takes at most " + std::to_string(limits.max_stop) + " strings", "stop");
  for (const auto& s : p.stop)
    if (s.empty()) return invalid("'stop' strings must not be empty", "stop");
  return std::nullopt;
}

// {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}; the schema is compiled (and refused) at submit.
Step parse_json_schema_format(const json& rf, CompletionParams& p) {
  const json* js = rf.contains("json_schema") ? &rf["json_schema"] : nullptr;
  if (!js || !js->is_object() || !js->contains("name") || !(*js)["name"].is_string())
    return invalid("'response_format.json_schema' must be an object with a 'name'", "response_format");
  const json schema = js->value("schema", json::object());
  if (!schema.is_object() && !schema.is_boolean()) return invalid("'response_format.json_schema.schema' must be an object", "response_format");
  const json strict = js->value("strict", json(false));
  if (!strict.is_boolean()) return invalid("'response_format.json_schema.strict' must be a boolean", "response_format");
  p.json_schema = schema;
  p.json_schema_strict = strict.get<bool>();
  return std::nullopt;
}

Step parse_response_format(Reader& r, CompletionParams& p) {
  const json* rf = r.get("response_format");
  if (!rf) return std::nullopt;
  if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string())
    return invalid("'response_format' must be {\"type\": \"text\" | \"json_object\"}", "response_format");
  const std::string t = (*rf)["type"].get<std::string>();
  if (t == "json_object") p.json_object = true;
  else if (t == "json_schema") return parse_json_schema_format(*rf, p);
  else if (t != "text")
    return invalid("'response_format' type '" + t + "' is not supported (use text, json_object or json_schema)", "response_format");
  return std::nullopt;
}

std::variant<CompletionParams, ApiError> parse_request_unchecked(const std::string& body_text, bool chat,
                                                                 const RequestLimits& limits) {
  auto parsed = parse_body(body_text, limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const json& body = std::get<json>(parsed);
  CompletionParams p;
  p.chat = chat;
  Reader r{body, std::nullopt};
  if (const json* m = r.get("model")) {
    if (!m->is_string()) return invalid("'model' must be a string", "model");
    p.model = m->get<std::string>();
  }
  if (auto e = chat ? parse_chat_fields(body, r, p) : parse_prompts(body, p)) return *e;
  // DeepSeek's encoders print tool schemas as given (Python dicts keep their
  // order): read the validated tools again, keys in the request's order.
  if (!p.tools.is_null()) p.tools = nlohmann::ordered_json::parse(body_text)["tools"];
  if (auto e = chat ? std::nullopt : parse_completion_extras(body, p)) return *e;
  if (auto e = parse_bias_and_user(body, p)) return *e;
  if (auto e = parse_stream(r, p)) return *e;
  if (auto e = parse_sampling(r, limits, p)) return *e;
  if (auto e = parse_choices(r, chat, limits, p)) return *e;
  if (auto e = parse_stop(r, limits, p)) return *e;
  if (auto e = parse_response_format(r, p)) return *e;
  if (r.error) return *r.error;
  if (Status st = validate(p.sampling); !st.ok()) return invalid(st.message());
  return p;
}

}  // namespace

std::variant<CompletionParams, ApiError> parse_completion_request(const std::string& body_text, bool chat,
                                                                  const RequestLimits& limits) {
  // Every field is type-checked before use; this is the backstop that keeps a
  // missed case a 400 rather than a 500.
  try {
    return parse_request_unchecked(body_text, chat, limits);
  } catch (const nlohmann::json::exception& e) {
    return invalid(std::string("malformed request: ") + e.what());
  }
}

}  // namespace dseek::server
