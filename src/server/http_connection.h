// One client connection, driven by Boost.Beast on an Asio strand: reads one
// request at a time under a deadline (idle wait, headers, body), answers in
// order (pipelined requests wait in the buffer), and drives a generation
// without blocking its io thread — the session's listener posts a wake-up for
// every new delta. While a request generates, the socket is watched for a
// hang-up, which cancels the request at the engine's next step.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "server/api_routes.h"
#include "server/request_guard.h"

namespace dseek::server {

class Connection;

// What a connection shares with its server.
struct ConnectionHost {
  const HttpOptions* opt = nullptr;
  const RequestGuard* guard = nullptr;
  ApiRoutes* routes = nullptr;
  std::atomic<bool>* stopping = nullptr;
  std::function<void(Connection*)> on_destroyed;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::ip::tcp::socket socket, ConnectionHost& host);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Server shutdown (any thread): idle connections close; a generation is
  // cancelled, so a stream ends with its final event and [DONE], then closes.
  void shutdown();
  // After the event loops have stopped: let go of the session and of itself.
  void abandon();

 private:
  enum class After { kNextRequest, kBody, kStream, kClose };
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  void read_request();
  void read_header();
  void on_header(boost::beast::error_code ec);
  void on_body(boost::beast::error_code ec);
  void refuse_on_read_error(boost::beast::error_code ec);
  void dispatch();
  void respond(Reply r);
  void begin_generation(Reply r);
  void pump();
  void end_generation();
  void watch_hangup();
  void client_gone();
  void write(std::string bytes, After after);
  void on_written(boost::beast::error_code ec, After after);
  void linger_close();
  void drain(size_t discarded);
  void close_now();
  bool stopping() const { return *host_.stopping || stopping_; }

  boost::beast::tcp_stream stream_;
  ConnectionHost& host_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  HttpRequest req_;
  bool peer_loopback_ = false, first_request_ = true, keep_alive_ = true, closed_ = false, stopping_ = false;
  bool writing_ = false, pump_pending_ = false, streaming_ = false, chunked_ = false;
  std::string out_;  // the write in flight
  std::array<char, 4096> sink_;  // what linger_close discards
  std::shared_ptr<Session> session_;
  std::shared_ptr<ResponseFormatter> builder_;
  std::shared_ptr<Connection> hold_;  // keeps this alive while a generation has no socket operation pending
};

}  // namespace dseek::server
