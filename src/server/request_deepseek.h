// The request fields DeepSeek's API adds to OpenAI's, and the legacy
// completion fields beyond a single prompt: parsed into CompletionParams.
//   chat:        thinking {"type": "enabled"|"disabled"}, reasoning_effort,
//                a last assistant message with "prefix": true (prefix completion)
//   completions: prompt as an array of strings or of token-id arrays, suffix (FIM), echo
//   both:        logit_bias, user
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/request.h"

namespace dseek::server {

// `thinking` and `reasoning_effort` become the template's thinking switch
// (template_kwargs "thinking"), unless chat_template_kwargs already set it.
std::optional<ApiError> parse_reasoning_switch(const nlohmann::json& body, CompletionParams& p);
// Marks a chat prefix completion; checks the prefix message is the last one and an assistant's.
std::optional<ApiError> parse_prefix_message(CompletionParams& p);
// prompt: a string, an array of strings, an array of token ids, or an array of token-id arrays.
std::optional<ApiError> parse_prompts(const nlohmann::json& body, CompletionParams& p);
// suffix and echo (completions only).
std::optional<ApiError> parse_completion_extras(const nlohmann::json& body, CompletionParams& p);
// logit_bias {"token id": bias in [-100, 100]} and user (a string, otherwise unused).
std::optional<ApiError> parse_bias_and_user(const nlohmann::json& body, CompletionParams& p);

}  // namespace dseek::server
