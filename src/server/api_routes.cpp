// See api_routes.h.
#include "server/api_routes.h"

#include "server/response.h"
#include "server/web_assets.h"

namespace dseek::server {

namespace http = boost::beast::http;
using nlohmann::json;

Reply ApiRoutes::error(const ApiError& e) {
  if (e.status >= 500) ctx_.metrics->requests_failed++;
  return error_reply(e);
}

json ApiRoutes::model_object() const {
  return {{"id", ctx_.alias}, {"object", "model"}, {"created", created_}, {"owned_by", "dseek"}};
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
  if (get && path == "/v1/models") return json_reply(200, {{"object", "list"}, {"data", json::array({model_object()})}});
  if (get && path.rfind("/v1/models/", 0) == 0 && path.size() > 11) {
    const std::string id = path.substr(11);
    if (id != ctx_.alias) return error(ApiError{404, "invalid_request_error", "the model '" + id + "' does not exist", "model", "model_not_found"});
    return json_reply(200, model_object());
  }
  if (req.method() == http::verb::post && path == "/v1/chat/completions") return completion(req, true);
  if (req.method() == http::verb::post && path == "/v1/completions") return completion(req, false);
  return http_error(404, method, path);
}

Reply ApiRoutes::completion(const HttpRequest& req, bool chat) {
  ctx_.metrics->requests++;
  auto parsed = parse_completion_request(req.body(), chat, ctx_.limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return error(*e);
  const CompletionParams& p = std::get<CompletionParams>(parsed);
  if (!p.model.empty() && p.model != ctx_.alias)
    return error(ApiError{404, "invalid_request_error",
                          "the model '" + p.model + "' does not exist; this server serves '" + ctx_.alias + "'", "model",
                          "model_not_found"});
  auto started = Session::start(ctx_, p);
  if (auto* e = std::get_if<ApiError>(&started)) return error(*e);
  Reply r;
  r.session = std::get<std::shared_ptr<Session>>(started);
  r.builder = std::make_shared<ResponseBuilder>(ctx_.alias, p, *r.session);
  r.stream = p.stream;
  if (r.stream) {
    r.content_type = "text/event-stream";
    r.set("Cache-Control", "no-cache");
    r.set("X-Accel-Buffering", "no");
  }
  return r;
}

Reply ApiRoutes::finished(const Session& session, const ResponseBuilder& builder) {
  if (!builder.error().empty()) {
    ctx_.metrics->requests_failed++;
    return json_reply(500, ApiError{500, "server_error", builder.error(), "", ""}.body());
  }
  return json_reply(200, builder.whole(session.usage()));
}

}  // namespace dseek::server
