// Anthropic Messages API requests (POST /v1/messages, /anthropic/v1/messages and
// their count_tokens) translated into the OpenAI-shaped chat request the rest of
// the server already parses and runs, so both protocols share one engine path:
//   system (string or text blocks)          -> a system message
//   user text blocks / tool_result blocks   -> user message / tool messages (tool_call_id)
//   assistant text / thinking / tool_use    -> content / reasoning_content / tool_calls
//   a last assistant message (prefill)      -> a chat prefix completion ("prefix": true)
//   tools {name, description, input_schema} -> function tools; tool_choice auto/any/tool/none
//   thinking {type: enabled, budget_tokens} -> DeepSeek's thinking switch (the budget is not enforced)
//   max_tokens (required), stop_sequences, temperature, top_p, top_k, stream
// Errors are ApiErrors; the routes write them in Anthropic's error shape.
#pragma once

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/request.h"

namespace dseek::server {

// The OpenAI chat request body for an Anthropic Messages request body.
// count_tokens requests need no max_tokens.
std::variant<nlohmann::json, ApiError> anthropic_to_openai(const nlohmann::json& body, bool count_tokens);

// The Anthropic request body as the equivalent OpenAI chat parameters
// (anthropic_to_openai, then the chat request parser); tool schemas keep the
// order they were sent in, as DeepSeek's encoders print them.
std::variant<CompletionParams, ApiError> anthropic_completion_params(const std::string& text, bool count_tokens,
                                                                     const RequestLimits& limits);

// Anthropic's error body {"type": "error", "error": {"type", "message"}} for a status.
nlohmann::json anthropic_error_body(const ApiError& e);

}  // namespace dseek::server
