// What a request must show before its body is read: a Host naming this server
// (no DNS rebinding), an Origin that is the server's own or allowed by
// --cors-origin, the API key on /v1 (scheme case-insensitive), the metrics key
// or a loopback peer on /metrics, no content or transfer coding that would
// inflate past --max-body, and JSON as the type of every POST body (a browser
// sends text/plain cross-site without asking; it cannot send JSON so).
#pragma once

#include <boost/beast/http/message.hpp>
#include <optional>
#include <string>

#include "server/http_options.h"
#include "server/http_reply.h"

namespace dseek::server {

using RequestHead = boost::beast::http::request_header<>;

// Constant-time comparison of the presented and expected API keys.
bool keys_match(const std::string& presented, const std::string& expected);
// The credentials of "Authorization: Bearer KEY" (scheme in any case), or "" if absent.
std::string bearer_token(const RequestHead& head);

class RequestGuard {
 public:
  explicit RequestGuard(const HttpOptions& opt) : opt_(opt) {}
  void set_port(int port) { port_ = port; }

  // A refusal, or nullopt when the request may go on.
  std::optional<Reply> admit(const RequestHead& head, bool peer_is_loopback) const;
  // Access-Control headers for a request from an allowed cross-origin page.
  void add_cors(const RequestHead& head, Reply& r) const;
  // The answer to a CORS preflight (OPTIONS).
  Reply preflight(const RequestHead& head) const;

  bool host_allowed(const std::string& host) const;
  bool origin_allowed(const std::string& origin, const std::string& host) const;

 private:
  bool cross_origin_listed(const std::string& origin) const;

  HttpOptions opt_;
  int port_ = 0;
};

}  // namespace dseek::server
