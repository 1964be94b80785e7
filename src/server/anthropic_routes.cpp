// ApiRoutes' Anthropic Messages API routes: the body is translated into an
// OpenAI chat request (anthropic_request.h) and runs the same session path.
#include "server/anthropic_request.h"
#include "server/api_routes.h"
#include "server/prompt_plan.h"
#include "server/response.h"

namespace dseek::server {

using nlohmann::json;

Reply ApiRoutes::anthropic_error(const ApiError& e) {
  if (e.status >= 500) ctx_.metrics->requests_failed++;
  Reply r = json_reply(e.status, anthropic_error_body(e));
  if (e.status == 429) r.set("Retry-After", "1");
  return r;
}

namespace {

// The Anthropic body as the equivalent OpenAI chat parameters.
std::variant<CompletionParams, ApiError> anthropic_params(const std::string& text, bool count_tokens, const RequestLimits& limits) {
  if (json_depth(text) > limits.max_json_depth)
    return invalid("the request body nests deeper than " + std::to_string(limits.max_json_depth) + " levels");
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception&) {
    return invalid("the request body is not valid JSON");
  }
  auto converted = anthropic_to_openai(body, count_tokens);
  if (auto* e = std::get_if<ApiError>(&converted)) return *e;
  return parse_completion_request(dump_json(std::get<json>(converted)), true, limits);
}

}  // namespace

Reply ApiRoutes::messages(const HttpRequest& req) {
  ctx_.metrics->requests++;
  auto parsed = anthropic_params(req.body(), false, ctx_.limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return anthropic_error(*e);
  return start(std::get<CompletionParams>(parsed), true);
}

Reply ApiRoutes::count_tokens(const HttpRequest& req) {
  auto parsed = anthropic_params(req.body(), true, ctx_.limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return anthropic_error(*e);
  const CompletionParams& p = std::get<CompletionParams>(parsed);
  if (!p.model.empty() && !serves(p.model))
    return anthropic_error(ApiError{404, "not_found_error", "model: " + p.model + " (this server serves '" + ctx_.alias + "')", "model", ""});
  auto plan = prompt_plan(ctx_, p);
  if (auto* e = std::get_if<ApiError>(&plan)) return anthropic_error(*e);
  return json_reply(200, {{"input_tokens", std::get<PromptPlan>(plan).ids.size()}});
}

}  // namespace dseek::server
