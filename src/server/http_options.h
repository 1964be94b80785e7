// What `dseek serve` flags set on the HTTP front: where it listens, who may
// call it, and how much memory and time one connection may hold.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace dseek::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                        // 0: any free port
  std::string api_key;                    // empty: no key needed on /v1
  std::string metrics_key;                // empty: /metrics only for loopback clients
  std::vector<std::string> cors_origins;  // browser origins allowed besides the server's own; "*": any
  size_t max_body = 1 << 20;              // bytes, after de-chunking
  size_t max_header = 16 << 10;           // bytes of request line + headers
  int io_threads = 2;                     // event loops; generation runs on the engine's thread
  int max_connections = 4096;             // open sockets; beyond it: 503 and close
  double header_timeout = 10;             // seconds to receive a request's headers
  double body_timeout = 30;               // seconds to receive its body
  double idle_timeout = 5;                // seconds a keep-alive connection may wait for its next request
  double write_timeout = 30;              // seconds a client may take to read one response write
};

}  // namespace dseek::server
