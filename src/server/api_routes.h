// The routes of `dseek serve` on a request that passed the RequestGuard:
// the chat page at /, /health, /metrics, the models list, the two OpenAI
// completion routes (with and without /v1, and under DeepSeek's /beta) and
// Anthropic's Messages API, which start a Session and hand it back for the
// connection to drive. Errors are OpenAI-style JSON bodies (Anthropic-style on
// the Anthropic routes).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/http_reply.h"
#include "server/session.h"

namespace dseek::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

class ApiRoutes {
 public:
  explicit ApiRoutes(ServerContext& ctx) : ctx_(ctx) {}

  Reply handle(const HttpRequest& req);
  // The whole (non-streamed) answer once a session has finished.
  Reply finished(const Session& session, const ResponseFormatter& builder);
  Metrics& metrics() { return *ctx_.metrics; }

 private:
  enum class Route { kNone, kChat, kCompletions, kMessages, kCountTokens, kModels, kModel };
  static Route route_of(const std::string& path);
  Reply completion(const HttpRequest& req, bool chat);
  // Starts a session for parsed parameters; its answer in OpenAI's or Anthropic's shape.
  Reply start(const CompletionParams& p, bool anthropic);
  Reply models(const std::string& path);
  // Anthropic's Messages API (anthropic_routes.cpp).
  Reply messages(const HttpRequest& req);
  Reply count_tokens(const HttpRequest& req);
  Reply error(const ApiError& e);
  Reply anthropic_error(const ApiError& e);
  nlohmann::json model_object(const std::string& id) const;
  bool serves(const std::string& model) const;  // one of the --model-alias names

  ServerContext& ctx_;
  int64_t created_ = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
};

}  // namespace dseek::server
