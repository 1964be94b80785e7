// The HTTP front of `dseek serve` (cpp-httplib): OpenAI-compatible routes,
// Bearer-key check on /v1, body-size limit, Server-Sent Events for streams,
// the embedded chat page at /, /health and /metrics. Every error is an
// OpenAI-style JSON body. Binds 127.0.0.1 unless told otherwise and never
// opens an outbound connection.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "server/session.h"

namespace dseek::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;           // 0: any free port
  std::string api_key;       // empty: no key needed
  size_t max_body = 1 << 20;
  int threads = 32;          // connection handlers (streams hold one each)
};

class HttpServer {
 public:
  HttpServer(ServerContext& ctx, const HttpOptions& opt);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the socket; the bound port is port() afterwards.
  Status bind();
  int port() const { return port_; }
  // Serves until stop() (from another thread or a signal watcher).
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// Constant-time comparison of the presented and expected API keys.
bool keys_match(const std::string& presented, const std::string& expected);

}  // namespace dseek::server
