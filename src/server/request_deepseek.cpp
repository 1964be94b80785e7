// See request_deepseek.h.
#include "server/request_deepseek.h"

#include <charconv>
#include <cmath>

namespace dseek::server {

using nlohmann::json;

namespace {

const json* field(const json& body, const char* key) {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

// Thinking on or off from DeepSeek's `thinking` object; nullopt when absent.
std::variant<std::optional<bool>, ApiError> thinking_field(const json& body) {
  const json* t = field(body, "thinking");
  if (!t) return std::optional<bool>();
  const char* shape = "'thinking' must be {\"type\": \"enabled\"} or {\"type\": \"disabled\"}";
  if (!t->is_object() || !t->contains("type") || !(*t)["type"].is_string()) return invalid(shape, "thinking");
  const std::string type = (*t)["type"].get<std::string>();
  if (type != "enabled" && type != "disabled") return invalid(shape, "thinking");
  return std::optional<bool>(type == "enabled");
}

// OpenAI's reasoning_effort: "none" turns thinking off, every other level on
// (DeepSeek's V3 / R1 / V3.1 templates have no levels; the value is passed on
// as template variable reasoning_effort for templates that do).
std::variant<std::optional<bool>, ApiError> effort_field(const json& body, CompletionParams& p) {
  const json* e = field(body, "reasoning_effort");
  if (!e) return std::optional<bool>();
  static const char* kLevels[] = {"none", "minimal", "low", "medium", "high", "xhigh", "max"};
  const std::string v = e->is_string() ? e->get<std::string>() : "";
  for (const char* level : kLevels)
    if (v == level) {
      if (!p.template_kwargs.contains("reasoning_effort")) p.template_kwargs["reasoning_effort"] = v;
      return std::optional<bool>(v != "none");
    }
  return invalid("'reasoning_effort' must be one of none, minimal, low, medium, high, xhigh, max", "reasoning_effort");
}

std::optional<ApiError> token_ids(const json& arr, std::vector<int32_t>& out) {
  for (const json& t : arr) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
      return invalid("'prompt' token ids must be non-negative integers", "prompt");
    out.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  if (out.empty()) return invalid("'prompt' has an empty token-id array", "prompt");
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_reasoning_switch(const json& body, CompletionParams& p) {
  auto thinking = thinking_field(body);
  if (auto* e = std::get_if<ApiError>(&thinking)) return *e;
  auto effort = effort_field(body, p);
  if (auto* e = std::get_if<ApiError>(&effort)) return *e;
  std::optional<bool> on = std::get<std::optional<bool>>(thinking);
  if (!on) on = std::get<std::optional<bool>>(effort);
  // An explicit `thinking` wins over reasoning_effort; chat_template_kwargs (the lower-level switch) over both.
  if (on && !p.template_kwargs.contains("thinking")) p.template_kwargs["thinking"] = *on;
  // Anthropic's budget_tokens (also taken on the OpenAI routes): where reasoning is cut short.
  if (const json* t = field(body, "thinking"); t && t->contains("budget_tokens")) {
    const json& b = (*t)["budget_tokens"];
    if (!b.is_number_integer() || b.get<int64_t>() < 0)
      return invalid("thinking.budget_tokens must be a non-negative integer", "thinking.budget_tokens");
    p.thinking_budget = b.get<int64_t>();
  }
  return std::nullopt;
}

std::optional<ApiError> parse_prefix_message(CompletionParams& p) {
  for (size_t i = 0; i < p.messages.size(); ++i) {
    const json& m = p.messages[i];
    auto it = m.find("prefix");
    if (it == m.end() || it->is_null()) continue;
    const std::string where = "messages[" + std::to_string(i) + "].prefix";
    if (!it->is_boolean()) return invalid(where + " must be a boolean", where);
    if (!it->get<bool>()) continue;
    if (i + 1 != p.messages.size() || m["role"] != "assistant")
      return invalid(where + ": only the last message, an assistant's, can be a prefix to continue", where);
    if (m.contains("tool_calls") && !m["tool_calls"].is_null() && !m["tool_calls"].empty())
      return invalid(where + ": a prefix message cannot hold tool_calls", where);
    p.prefix_completion = true;
  }
  return std::nullopt;
}

std::optional<ApiError> parse_prompts(const json& body, CompletionParams& p) {
  const json* pr = field(body, "prompt");
  if (!pr) return invalid("'prompt' is required", "prompt");
  const char* shape = "'prompt' must be a string, an array of strings, an array of token ids or an array of token-id arrays";
  if (pr->is_string()) {
    p.prompt_list.push_back(pr->get<std::string>());
  } else if (!pr->is_array() || pr->empty()) {
    return invalid(shape, "prompt");
  } else if ((*pr)[0].is_number_integer()) {
    p.prompt_id_list.emplace_back();
    if (auto e = token_ids(*pr, p.prompt_id_list.back())) return e;
  } else {
    const bool strings = (*pr)[0].is_string();
    for (const json& item : *pr) {
      if (strings && item.is_string()) p.prompt_list.push_back(item.get<std::string>());
      else if (!strings && item.is_array()) {
        p.prompt_id_list.emplace_back();
        if (auto e = token_ids(item, p.prompt_id_list.back())) return e;
      } else {
        return invalid(shape, "prompt");
      }
    }
  }
  for (const auto& s : p.prompt_list)
    if (s.empty()) return invalid("'prompt' is empty", "prompt");
  p.prompt_is_ids = !p.prompt_id_list.empty();
  if (p.prompt_is_ids) p.prompt_ids = p.prompt_id_list[0];
  else p.prompt = p.prompt_list[0];
  return std::nullopt;
}

std::optional<ApiError> parse_completion_extras(const json& body, CompletionParams& p) {
  if (const json* s = field(body, "suffix")) {
    if (!s->is_string()) return invalid("'suffix' must be a string", "suffix");
    p.fim = true;
    p.suffix = s->get<std::string>();
  }
  if (const json* e = field(body, "echo")) {
    if (!e->is_boolean()) return invalid("'echo' must be a boolean", "echo");
    p.echo = e->get<bool>();
  }
  return std::nullopt;
}

std::optional<ApiError> parse_bias_and_user(const json& body, CompletionParams& p) {
  if (const json* u = field(body, "user"); u && !u->is_string()) return invalid("'user' must be a string", "user");
  const json* lb = field(body, "logit_bias");
  if (!lb) return std::nullopt;
  if (!lb->is_object()) return invalid("'logit_bias' must be an object mapping token ids to numbers", "logit_bias");
  if (lb->size() > 1024) return invalid("'logit_bias' takes at most 1024 tokens", "logit_bias");
  for (const auto& [key, v] : lb->items()) {
    int64_t id = -1;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || id < 0 || id > INT32_MAX)
      return invalid("'logit_bias' key '" + key + "' is not a token id", "logit_bias");
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < -100 || v.get<double>() > 100)
      return invalid("'logit_bias' values must be numbers between -100 and 100", "logit_bias");
    p.logit_bias.emplace_back(static_cast<int32_t>(id), v.get<float>());
  }
  return std::nullopt;
}

}  // namespace dseek::server
