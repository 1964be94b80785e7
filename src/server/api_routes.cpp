// See api_routes.h.
#include "server/api_routes.h"

#include <algorithm>
#include <cstring>

#include "server/anthropic_response.h"
#include "server/response.h"
#include "server/web_assets.h"

namespace dseek::server {

namespace http = boost::beast::http;
using nlohmann::json;

Reply ApiRoutes::error(const ApiError& e) {
  if (e.status >= 500) ctx_.metrics->requests_failed++;
  return error_reply(e);
}

json ApiRoutes::model_object(const std::string& id) const {
  return {{"id", id}, {"object", "model"}, {"created", created_}, {"owned_by", "dseek"}};
}

bool ApiRoutes::serves(const std::string& model) const {
  return std::find(ctx_.aliases.begin(), ctx_.aliases.end(), model) != ctx_.aliases.end() || model == ctx_.alias;
}

// The API routes' paths as DeepSeek documents them: with and without /v1,
// and /beta for its beta features (prefix completion, FIM); Anthropic's under
// /anthropic and at /v1/messages.
ApiRoutes::Route ApiRoutes::route_of(const std::string& path) {
  static const std::pair<const char*, Route> kRoutes[] = {
      {"/v1/chat/completions", Route::kChat},          {"/chat/completions", Route::kChat},
      {"/beta/chat/completions", Route::kChat},        {"/beta/v1/chat/completions", Route::kChat},
      {"/v1/completions", Route::kCompletions},        {"/completions", Route::kCompletions},
      {"/beta/completions", Route::kCompletions},      {"/beta/v1/completions", Route::kCompletions},
      {"/v1/messages", Route::kMessages},              {"/anthropic/v1/messages", Route::kMessages},
      {"/v1/messages/count_tokens", Route::kCountTokens}, {"/anthropic/v1/messages/count_tokens", Route::kCountTokens},
      {"/v1/models", Route::kModels},                  {"/models", Route::kModels},
      {"/beta/models", Route::kModels},                {"/anthropic/v1/models", Route::kModels},
  };
  for (const auto& [p, r] : kRoutes)
    if (path == p) return r;
  for (const char* prefix : {"/v1/models/", "/models/", "/anthropic/v1/models/"})
    if (path.rfind(prefix, 0) == 0 && path.size() > std::strlen(prefix)) return Route::kModel;
  return Route::kNone;
}

Reply ApiRoutes::models(const std::string& path) {
  if (route_of(path) == Route::kModels) {
    json data = json::array();
    for (const auto& a : ctx_.aliases) data.push_back(model_object(a));
    if (data.empty()) data.push_back(model_object(ctx_.alias));
    return json_reply(200, {{"object", "list"}, {"data", data}});
  }
  const std::string id = path.substr(path.rfind('/') + 1);
  if (!serves(id)) return error(ApiError{404, "invalid_request_error", "the model '" + id + "' does not exist", "model", "model_not_found"});
  return json_reply(200, model_object(id));
}

Reply ApiRoutes::handle(const HttpRequest& req) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const std::string method(req.method_string());
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (get && path == "/") {
    Reply r;
    r.content_type = "text/html; charset=utf-8";
    r.set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:");
    r.body = std::string(kIndexHtml);
    return r;
  }
  if (get && path == "/health") return json_reply(200, {{"status", "ok"}});
  if (get && path == "/metrics") {
    Reply r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = ctx_.metrics->render(ctx_.engine->stats());
    return r;
  }
  const Route route = route_of(path);
  if (get && (route == Route::kModels || route == Route::kModel)) return models(path);
  if (req.method() == http::verb::post) {
    if (route == Route::kChat) return completion(req, true);
    if (route == Route::kCompletions) return completion(req, false);
    if (route == Route::kMessages) return messages(req);
    if (route == Route::kCountTokens) return count_tokens(req);
  }
  return http_error(404, method, path);
}

Reply ApiRoutes::completion(const HttpRequest& req, bool chat) {
  ctx_.metrics->requests++;
  auto parsed = parse_completion_request(req.body(), chat, ctx_.limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return error(*e);
  return start(std::get<CompletionParams>(parsed), false);
}

Reply ApiRoutes::start(const CompletionParams& p, bool anthropic) {
  auto fail = [&](const ApiError& e) { return anthropic ? anthropic_error(e) : error(e); };
  if (!p.model.empty() && !serves(p.model))
    return fail(ApiError{404, "invalid_request_error",
                         "the model '" + p.model + "' does not exist; this server serves '" + ctx_.alias + "'", "model",
                         "model_not_found"});
  auto started = Session::start(ctx_, p);
  if (auto* e = std::get_if<ApiError>(&started)) return fail(*e);
  Reply r;
  r.session = std::get<std::shared_ptr<Session>>(started);
  const std::string model = p.model.empty() ? ctx_.alias : p.model;
  if (anthropic) r.builder = std::make_shared<AnthropicFormatter>(model, r.session->usage());
  else r.builder = std::make_shared<ResponseBuilder>(model, p, *r.session);
  r.stream = p.stream;
  if (r.stream) {
    r.content_type = "text/event-stream";
    r.set("Cache-Control", "no-cache");
    r.set("X-Accel-Buffering", "no");
  }
  return r;
}

Reply ApiRoutes::finished(const Session& session, const ResponseFormatter& builder) {
  if (!builder.error().empty()) {
    ctx_.metrics->requests_failed++;
    return json_reply(500, builder.error_body(ApiError{500, "server_error", builder.error(), "", ""}));
  }
  return json_reply(200, builder.whole(session.usage()));
}

}  // namespace dseek::server
