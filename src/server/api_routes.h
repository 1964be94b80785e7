// The routes of `dseek serve` on a request that passed the RequestGuard:
// the chat page at /, /health, /metrics, /v1/models, and the two completion
// routes, which start a Session and hand it back for the connection to drive.
// Every error is an OpenAI-style JSON body.
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
  Reply finished(const Session& session, const ResponseBuilder& builder);
  Metrics& metrics() { return *ctx_.metrics; }

 private:
  Reply completion(const HttpRequest& req, bool chat);
  Reply error(const ApiError& e);
  nlohmann::json model_object() const;

  ServerContext& ctx_;
  int64_t created_ = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
};

}  // namespace dseek::server
