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


Reply ApiRoutes::messages(const HttpRequest& req) {
  ctx_.metrics->requests++;
  auto parsed = anthropic_completion_params(req.body(), false, ctx_.limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return anthropic_error(*e);
  return start(std::get<CompletionParams>(parsed), true);
}

Reply ApiRoutes::count_tokens(const HttpRequest& req) {
  auto parsed = anthropic_completion_params(req.body(), true, ctx_.limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return anthropic_error(*e);
  const CompletionParams& p = std::get<CompletionParams>(parsed);
  if (!p.model.empty() && !serves(p.model))
    return anthropic_error(ApiError{404, "not_found_error", "model: " + p.model + " (this server serves '" + ctx_.alias + "')", "model", ""});
  auto plan = prompt_plan(ctx_, p);
  if (auto* e = std::get_if<ApiError>(&plan)) return anthropic_error(*e);
  return json_reply(200, {{"input_tokens", std::get<PromptPlan>(plan).ids.size()}});
}

}  // namespace dseek::server
