// See http_connection.h.
#include "server/http_connection.h"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>

#include "server/response.h"

namespace dseek::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::chrono::milliseconds ms(double seconds) { return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)); }

}  // namespace

Connection::Connection(net::ip::tcp::socket socket, ConnectionHost& host) : stream_(std::move(socket)), host_(host) {
  beast::error_code ec;
  const auto peer = stream_.socket().remote_endpoint(ec);
  const auto addr = peer.address();
  peer_loopback_ = !ec && (addr.is_loopback() || (addr.is_v6() && addr.to_v6().is_v4_mapped() &&
                                                  net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6()).is_loopback()));
  stream_.socket().set_option(net::ip::tcp::no_delay(true), ec);  // small SSE chunks go out now
}

Connection::~Connection() {
  if (session_) {
    session_->set_listener(nullptr);
    session_->cancel();
  }
  if (host_.on_destroyed) host_.on_destroyed(this);
}

void Connection::start() {
  net::post(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

void Connection::shutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->stopping_ = true;
    if (self->session_) self->session_->cancel_with_reason("shutdown");
    else if (!self->writing_) self->close_now();
  });
}

void Connection::abandon() {
  if (session_) {
    session_->set_listener(nullptr);
    session_->cancel();
  }
  auto keep = std::move(hold_);
}

// A keep-alive connection may wait idle_timeout for its next request's first
// byte; then its headers must arrive within header_timeout.
void Connection::read_request() {
  if (closed_) return;
  if (stopping()) return close_now();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(host_.opt->max_header));
  parser_->body_limit(host_.opt->max_body);
  if (first_request_ || buffer_.size() > 0) return read_header();
  stream_.expires_after(ms(host_.opt->idle_timeout));
  stream_.async_read_some(buffer_.prepare(1024), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->buffer_.commit(n);
    if (ec) return self->close_now();
    self->read_header();
  });
}

void Connection::read_header() {
  first_request_ = false;
  stream_.expires_after(ms(host_.opt->header_timeout));
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void Connection::refuse_on_read_error(beast::error_code ec) {
  const bool protocol = ec.category() == beast::error_code(http::error::body_limit).category();
  if (!protocol || ec == http::error::end_of_stream || ec == http::error::partial_message)
    return close_now();  // too slow (deadline) or gone: nobody to answer
  const int status = ec == http::error::body_limit ? 413 : ec == http::error::header_limit ? 431 : 400;
  respond(http_error(status, "", ""));
}

void Connection::on_header(beast::error_code ec) {
  stream_.expires_never();
  if (ec) return refuse_on_read_error(ec);
  const RequestHead& head = parser_->get().base();
  keep_alive_ = parser_->get().keep_alive();
  if (auto refusal = host_.guard->admit(head, peer_loopback_)) return respond(std::move(*refusal));
  if (head.method() == http::verb::options && parser_->is_done()) return respond(host_.guard->preflight(head));
  if (parser_->is_done()) return dispatch();
  const auto expect = head.find(http::field::expect);
  if (expect != head.end() && beast::iequals(expect->value(), "100-continue"))
    return write("HTTP/1.1 100 Continue\r\n\r\n", After::kBody);
  on_written({}, After::kBody);
}

void Connection::on_body(beast::error_code ec) {
  stream_.expires_never();
  if (ec) return refuse_on_read_error(ec);
  dispatch();
}

void Connection::dispatch() {
  req_ = parser_->release();
  parser_.reset();
  Reply r = host_.routes->handle(req_);
  if (r.session) return begin_generation(std::move(r));
  respond(std::move(r));
}

void Connection::respond(Reply r) {
  if (closed_) return;
  const bool body_unread = parser_ && !parser_->is_done();
  if (parser_) req_.base() = parser_->get().base();  // refused before the body: the head is all there is
  host_.guard->add_cors(req_.base(), r);
  const bool keep = keep_alive_ && !r.close && !body_unread && !stopping();
  const bool head_only = req_.method() == http::verb::head;
  std::string bytes = serialize_head(r, req_.version(), keep, static_cast<long long>(r.body.size()));
  if (!head_only) bytes += r.body;
  write(std::move(bytes), keep ? After::kNextRequest : After::kClose);
}

void Connection::begin_generation(Reply r) {
  session_ = std::move(r.session);
  builder_ = std::move(r.builder);
  streaming_ = r.stream;
  hold_ = shared_from_this();
  session_->set_listener([weak = weak_from_this(), ex = stream_.get_executor()] {
    net::post(ex, [weak] {
      if (auto self = weak.lock()) self->pump();
    });
  });
  watch_hangup();
  if (streaming_) {
    host_.guard->add_cors(req_.base(), r);
    chunked_ = req_.version() != 10;  // HTTP/1.0 gets a body delimited by closing the connection
    keep_alive_ = keep_alive_ && chunked_;
    pump_pending_ = true;  // the first chunks go out right after the head
    return write(serialize_head(r, req_.version(), keep_alive_ && !stopping(), -1), After::kStream);
  }
  pump();
}

// Takes what the session has (never waits) and writes it, or the whole answer when it is done.
void Connection::pump() {
  if (!session_) return;
  if (writing_) {
    pump_pending_ = true;
    return;
  }
  std::vector<ChoiceDelta> deltas, got;
  bool more = true;
  do {  // poll says "done" only on a call that finds nothing left
    got.clear();
    more = session_->poll(got, std::chrono::milliseconds(0));
    for (auto& d : got) deltas.push_back(std::move(d));
  } while (more && !got.empty());
  if (!streaming_) {
    for (auto& d : deltas) builder_->add(d);
    if (more) return;
    Reply whole = host_.routes->finished(*session_, *builder_);
    auto keep = std::move(hold_);
    end_generation();
    return respond(std::move(whole));
  }
  std::string out;
  if (!builder_->started()) out += builder_->first_chunks();
  for (auto& d : deltas) out += builder_->chunk(d);
  if (!more) out += builder_->last_chunks(session_->usage());
  auto keep = more ? std::shared_ptr<Connection>() : std::move(hold_);
  if (!more) end_generation();
  if (closed_) return;
  std::string wire = chunked_ ? chunk_frame(out) + (more ? "" : kLastChunk) : out;
  if (more && wire.empty()) return;
  const bool next = keep_alive_ && !stopping();
  write(std::move(wire), more ? After::kStream : next ? After::kNextRequest : After::kClose);
}

void Connection::end_generation() {
  session_->set_listener(nullptr);
  session_.reset();
  builder_.reset();
  streaming_ = false;
}

// Readable with nothing to read means the peer closed: cancel. Data means the
// next pipelined request, which waits its turn (then a hang-up shows at the next write).
void Connection::watch_hangup() {
  if (!session_ || closed_) return;
  stream_.socket().async_wait(net::socket_base::wait_read, [self = shared_from_this()](beast::error_code ec) {
    if (ec || !self->session_ || self->closed_) return;
    char c;
    const ssize_t n = ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->watch_hangup();
    self->client_gone();
  });
}

void Connection::client_gone() {
  if (session_) session_->cancel();  // its last delta still arrives and releases the session
  close_now();
}

void Connection::write(std::string bytes, After after) {
  writing_ = true;
  out_ = std::move(bytes);
  stream_.expires_after(ms(host_.opt->write_timeout));
  net::async_write(stream_, net::buffer(out_), [self = shared_from_this(), after](beast::error_code ec, size_t) {
    self->on_written(ec, after);
  });
}

void Connection::on_written(beast::error_code ec, After after) {
  writing_ = false;
  stream_.expires_never();
  if (ec) return client_gone();
  switch (after) {
    case After::kNextRequest: return read_request();
    case After::kClose: return linger_close();
    case After::kBody:
      stream_.expires_after(ms(host_.opt->body_timeout));
      return http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code e, size_t) { self->on_body(e); });
    case After::kStream:
      if (pump_pending_) pump_pending_ = false, pump();
      return;
  }
}

// Closing with unread request bytes makes the kernel send a reset, which can
// destroy the answer before the client reads it: half-close, then discard
// what still arrives (at most 1 MiB, for at most a second).
void Connection::linger_close() {
  if (closed_) return;
  beast::error_code ec;
  stream_.socket().shutdown(net::socket_base::shutdown_send, ec);
  if (ec) return close_now();
  stream_.expires_after(std::chrono::seconds(1));
  drain(0);
}

void Connection::drain(size_t discarded) {
  if (discarded > (1u << 20)) return close_now();
  stream_.async_read_some(net::buffer(sink_), [self = shared_from_this(), discarded](beast::error_code ec, size_t n) {
    if (ec) return self->close_now();
    self->drain(discarded + n);
  });
}

void Connection::close_now() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(net::socket_base::shutdown_both, ec);
  stream_.socket().close(ec);
}

}  // namespace dseek::server
