// The HTTP front of `dseek serve`, event-driven on Boost.Beast / Asio: a few
// io threads run every connection (see http_connection.h); generation runs on
// the engine's thread and never blocks them. Open connections are capped (the
// excess gets 503 and is closed at once); each one's time and memory are
// bounded (HttpOptions). Binds 127.0.0.1 unless told otherwise and never opens
// an outbound connection.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "server/http_options.h"
#include "server/request_guard.h"
#include "server/session.h"

namespace dseek::server {

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
  // Graceful: stops accepting, closes idle connections, ends every generation
  // (streams get their final event and [DONE]); run() returns once all are
  // gone, or after a grace period.
  void stop();
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace dseek::server
