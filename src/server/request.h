// Request bodies of /v1/chat/completions and /v1/completions: parsed from
// untrusted JSON into validated parameters, or an ApiError naming the field.
// Unknown fields are ignored (clients send extras); known fields of the wrong
// type or outside their range are refused, never clamped silently.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/sampler/sampler.h"
#include "server/api_error.h"

namespace dseek::server {

struct RequestLimits {
  int64_t max_tokens = 4096;  // per choice
  int64_t max_n = 8;
  int max_json_depth = 64;
  size_t max_stop = 16;  // DeepSeek's limit
};

struct CompletionParams {
  bool chat = true;
  std::string model;                  // as sent ("" when absent)
  nlohmann::json messages;            // chat: normalised [{role, content (string), ...}]
  std::string prompt;                 // completions: text prompt
  std::vector<int32_t> prompt_ids;    // completions: a prompt given as token ids
  bool prompt_is_ids = false;
  // completions: every prompt of a legacy prompt array (each gets n choices); [0] is prompt / prompt_ids
  std::vector<std::string> prompt_list;
  std::vector<std::vector<int32_t>> prompt_id_list;
  bool fim = false;                   // completions: `suffix` given (fill-in-the-middle)
  std::string suffix;
  bool echo = false;                  // completions: the prompt text leads each choice's text
  bool prefix_completion = false;     // chat: the last (assistant, "prefix": true) message is continued
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> added to its logit
  bool stream = false, include_usage = false;
  int64_t max_tokens = -1;            // -1: until the context or the server's limit
  SamplingParams sampling;
  std::vector<std::string> stop;
  int64_t n = 1;
  bool logprobs = false;
  int32_t top_logprobs = 0;
  bool json_object = false;
  nlohmann::json json_schema;         // response_format json_schema: the schema (null: none)
  bool json_schema_strict = false;    // its "strict" (objects refuse undeclared keys)
  bool parallel_tool_calls = true;
  nlohmann::ordered_json tools;       // null or the tools array as sent, keys in the request's order
  bool tools_enabled = false;         // tools present and tool_choice != "none"
  std::string tool_choice = "auto";   // none | auto | required | function (then forced_tool names it)
  std::string forced_tool;
  nlohmann::json template_kwargs = nlohmann::json::object();  // chat_template_kwargs (e.g. thinking)
  int64_t thinking_budget = -1;       // thinking.budget_tokens: reasoning is closed after this many tokens (-1: no limit)
};

// Nesting depth of a JSON text, counted without parsing (strings skipped).
int json_depth(const std::string& body);

std::variant<CompletionParams, ApiError> parse_completion_request(const std::string& body, bool chat,
                                                                  const RequestLimits& limits);

}  // namespace dseek::server
