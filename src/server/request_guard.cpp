// See request_guard.h.
#include "server/request_guard.h"

#include <algorithm>
#include <cctype>

namespace dseek::server {

namespace http = boost::beast::http;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string field(const RequestHead& head, http::field f) {
  const auto it = head.find(f);
  return it == head.end() ? std::string() : std::string(it->value());
}

bool is_loopback_name(const std::string& name) {
  return name == "localhost" || name == "127.0.0.1" || name == "::1" || name == "[::1]";
}

bool is_wildcard(const std::string& host) { return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]"; }

// "name:port" / "[v6]:port" / "name" -> name (brackets kept for v6) and port (default 80).
void split_host(const std::string& host, std::string* name, int* port) {
  const size_t colon = host.rfind(':');
  const bool has_port = colon != std::string::npos && host.find(']', colon) == std::string::npos &&
                        (host[0] == '[' || host.find(':') == colon);
  *name = has_port ? host.substr(0, colon) : host;
  *port = 80;
  if (has_port) {
    const std::string digits = host.substr(colon + 1);
    *port = !digits.empty() && digits.size() <= 5 && std::all_of(digits.begin(), digits.end(), ::isdigit) ? std::stoi(digits) : -1;
  }
}

Reply refuse(int status, const std::string& message, const std::string& code) {
  const std::string type = status == 401 ? "authentication_error" : "invalid_request_error";
  Reply r = error_reply(ApiError{status, type, message, "", code});
  r.close = status == 415 || status == 501;  // the body is left unread
  return r;
}

}  // namespace

bool keys_match(const std::string& presented, const std::string& expected) {
  // Touch every byte of the longer string whatever matches, so timing says nothing about the key.
  const size_t n = std::max(presented.size(), expected.size());
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    const unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    diff |= static_cast<unsigned char>(a ^ b);
  }
  return diff == 0;
}

std::string bearer_token(const RequestHead& head) {
  const std::string h = trim(field(head, http::field::authorization));
  if (h.size() <= 7 || lower(h.substr(0, 7)) != "bearer ") return {};
  return trim(h.substr(7));
}

namespace {

// The routes the API key guards: everything but the chat page, /health and /metrics (its own key).
bool needs_api_key(const std::string& path) {
  for (const char* prefix : {"/v1/", "/beta/", "/anthropic/", "/models"})
    if (path.rfind(prefix, 0) == 0) return true;
  return path == "/chat/completions" || path == "/completions";
}

// The key a client presented: OpenAI's 'Authorization: Bearer KEY' or Anthropic's 'x-api-key: KEY'.
bool api_key_ok(const RequestHead& head, const std::string& key) {
  if (keys_match(bearer_token(head), key)) return true;
  const auto it = head.find("x-api-key");
  return it != head.end() && keys_match(trim(std::string(it->value())), key);
}

}  // namespace

bool RequestGuard::host_allowed(const std::string& host) const {
  if (host.empty() || is_wildcard(opt_.host)) return true;  // HTTP/1.0 tools send none; a browser always does
  if (std::find(opt_.cors_origins.begin(), opt_.cors_origins.end(), "*") != opt_.cors_origins.end()) return true;
  std::string name;
  int port = 0;
  split_host(lower(host), &name, &port);
  if (port != port_) return false;
  if (is_loopback_name(name) || name == lower(opt_.host) || name == "[" + lower(opt_.host) + "]") return true;
  for (const auto& o : opt_.cors_origins) {  // an allowed page's own host may name this server too
    const size_t scheme = o.find("://");
    if (lower(scheme == std::string::npos ? o : o.substr(scheme + 3)) == lower(host)) return true;
  }
  return false;
}

bool RequestGuard::cross_origin_listed(const std::string& origin) const {
  for (const auto& o : opt_.cors_origins)
    if (o == "*" || lower(o) == lower(origin)) return true;
  return false;
}

bool RequestGuard::origin_allowed(const std::string& origin, const std::string& host) const {
  if (origin.empty()) return true;  // not a browser's cross-site request
  if (!host.empty() && lower(origin) == "http://" + lower(host)) return true;  // the chat page at /
  return cross_origin_listed(origin);
}

std::optional<Reply> RequestGuard::admit(const RequestHead& head, bool peer_is_loopback) const {
  const std::string host = field(head, http::field::host), origin = field(head, http::field::origin);
  const std::string target(head.target());
  const std::string path = target.substr(0, target.find('?'));
  if (!host_allowed(host))
    return refuse(403, "the Host header '" + host + "' does not name this server (start it with --cors-origin to allow others)", "forbidden_host");
  if (!origin_allowed(origin, host))
    return refuse(403, "requests from the page at '" + origin + "' are not allowed (start the server with --cors-origin " + origin + ")", "forbidden_origin");
  if (path == "/metrics") {
    const bool ok = opt_.metrics_key.empty() ? peer_is_loopback : keys_match(bearer_token(head), opt_.metrics_key);
    if (!ok) return refuse(403, opt_.metrics_key.empty() ? "/metrics is served to loopback clients only (or start the server with --metrics-key)"
                                                         : "send 'Authorization: Bearer <metrics key>' for /metrics", "forbidden");
  }
  if (needs_api_key(path) && !opt_.api_key.empty() && !api_key_ok(head, opt_.api_key) && head.method() != http::verb::options)
    return refuse(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>' (or 'x-api-key: <key>') with the key the server was started with", "invalid_api_key");
  const std::string coding = lower(trim(field(head, http::field::content_encoding)));
  if (!coding.empty() && coding != "identity")
    return refuse(415, "Content-Encoding '" + coding + "' is not accepted; send the body uncompressed", "unsupported_content_encoding");
  const std::string transfer = lower(trim(field(head, http::field::transfer_encoding)));
  if (!transfer.empty() && transfer != "chunked")
    return refuse(501, "Transfer-Encoding '" + transfer + "' is not supported (only chunked)", "unsupported_transfer_encoding");
  if (head.method() == http::verb::post) {
    const std::string type = lower(trim(field(head, http::field::content_type)));
    if (trim(type.substr(0, type.find(';'))) != "application/json")
      return refuse(415, "the request body must be sent with 'Content-Type: application/json'", "unsupported_media_type");
  }
  return std::nullopt;
}

void RequestGuard::add_cors(const RequestHead& head, Reply& r) const {
  const std::string origin = field(head, http::field::origin);
  if (origin.empty() || !cross_origin_listed(origin)) return;
  r.set("Access-Control-Allow-Origin", origin);
  r.set("Vary", "Origin");
}

Reply RequestGuard::preflight(const RequestHead& head) const {
  Reply r;
  r.status = 204;
  r.content_type.clear();
  add_cors(head, r);
  r.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  r.set("Access-Control-Allow-Headers", "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta");
  r.set("Access-Control-Max-Age", "600");
  return r;
}

}  // namespace dseek::server
