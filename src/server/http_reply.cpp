// See http_reply.h.
#include "server/http_reply.h"

#include <boost/beast/http/status.hpp>
#include <cstdio>

#include "server/response.h"

namespace dseek::server {

Reply json_reply(int status, const nlohmann::json& body) {
  Reply r;
  r.status = status;
  r.body = dump_json(body);
  return r;
}

Reply error_reply(const ApiError& e) {
  Reply r = json_reply(e.status, e.body());
  if (e.status == 429) r.set("Retry-After", "1");
  return r;
}

Reply http_error(int status, const std::string& method, const std::string& path) {
  ApiError e{status, "invalid_request_error", "", "", ""};
  if (status == 404) e.message = "no route " + method + " " + path, e.code = "not_found";
  else if (status == 413) e.message = "the request body is too large (start the server with a larger --max-body)", e.code = "body_too_large";
  else if (status == 405) e.message = "method not allowed";
  else if (status == 431) e.message = "the request headers are too large", e.code = "headers_too_large";
  else if (status == 408) e.message = "the request was not received in time", e.code = "request_timeout";
  else e.message = "HTTP error " + std::to_string(status), e.type = status >= 500 ? "server_error" : e.type;
  Reply r = json_reply(status, e.body());
  r.close = status == 413 || status == 431 || status == 408 || status == 400;
  return r;
}

std::string serialize_head(const Reply& r, unsigned version, bool keep_alive, long long content_length) {
  const auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(r.status));
  std::string h = version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  h += std::to_string(r.status) + " " + std::string(reason.data(), reason.size()) + "\r\n";
  if (!r.content_type.empty()) h += "Content-Type: " + r.content_type + "\r\n";
  for (const auto& [name, value] : r.headers) h += name + ": " + value + "\r\n";
  if (content_length >= 0) h += "Content-Length: " + std::to_string(content_length) + "\r\n";
  else if (version != 10) h += "Transfer-Encoding: chunked\r\n";
  if (!keep_alive) h += "Connection: close\r\n";
  else if (version == 10) h += "Connection: keep-alive\r\n";
  return h + "\r\n";
}

std::string chunk_frame(const std::string& data) {
  if (data.empty()) return {};
  char size[24];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

}  // namespace dseek::server
