// See http_server.h.
#include "server/http_server.h"

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "server/api_routes.h"
#include "server/http_connection.h"

namespace dseek::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr auto kGracePeriod = std::chrono::seconds(10);  // for generations to end after stop()

// Sent without waiting to a connection over the cap, which is closed at once.
const std::string& busy_answer() {
  static const std::string wire = [] {
    Reply r = error_reply(ApiError{503, "server_error", "too many open connections; retry shortly", "", "server_busy"});
    r.set("Retry-After", "1");
    return serialize_head(r, 11, false, static_cast<long long>(r.body.size())) + r.body;
  }();
  return wire;
}

}  // namespace

struct HttpServer::Impl {
  HttpOptions opt;
  RequestGuard guard;
  ApiRoutes routes;
  std::atomic<bool> stopping{false};
  ConnectionHost host;
  mutable std::mutex mu;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns;
  // Declared after what connections use: destroying the loop destroys the connections it still holds.
  net::io_context ioc;
  net::strand<net::io_context::executor_type> strand{net::make_strand(ioc)};
  tcp::acceptor acceptor{strand};
  net::steady_timer retry{strand}, grace{strand};

  Impl(ServerContext& ctx, const HttpOptions& o) : opt(o), guard(o), routes(ctx) {
    host.opt = &opt;
    host.guard = &guard;
    host.routes = &routes;
    host.stopping = &stopping;
    host.on_destroyed = [this](Connection* c) { forget(c); };
  }

  void forget(Connection* c) {
    std::lock_guard lock(mu);
    conns.erase(c);
    if (conns.empty() && stopping) net::post(strand, [this] { grace.cancel(); });
  }

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
      if (stopping || !acceptor.is_open()) return;
      if (ec) {  // out of descriptors, most likely: breathe, then go on
        retry.expires_after(std::chrono::milliseconds(50));
        return retry.async_wait([this](boost::system::error_code) { if (!stopping) accept(); });
      }
      admit(std::move(socket));
      accept();
    });
  }

  void admit(tcp::socket socket) {
    std::unique_lock lock(mu);
    if (conns.size() >= static_cast<size_t>(opt.max_connections)) {
      lock.unlock();
      const std::string& wire = busy_answer();
      (void)::send(socket.native_handle(), wire.data(), wire.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    auto c = std::make_shared<Connection>(std::move(socket), host);
    conns.emplace(c.get(), c);
    lock.unlock();
    c->start();
  }

  std::vector<std::shared_ptr<Connection>> live() {
    std::lock_guard lock(mu);
    std::vector<std::shared_ptr<Connection>> out;
    for (auto& [p, w] : conns)
      if (auto c = w.lock()) out.push_back(std::move(c));
    return out;
  }

  void begin_stop() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    retry.cancel();
    for (auto& c : live()) c->shutdown();
    grace.expires_after(kGracePeriod);
    grace.async_wait([this](boost::system::error_code ec) {
      if (!ec) ioc.stop();  // generations that did not end in time are abandoned
    });
    std::lock_guard lock(mu);
    if (conns.empty()) grace.cancel();
  }
};

HttpServer::HttpServer(ServerContext& ctx, const HttpOptions& opt) : impl_(std::make_unique<Impl>(ctx, opt)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::bind() {
  const auto& o = impl_->opt;
  const std::string where = o.host + ":" + std::to_string(o.port);
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto found = resolver.resolve(o.host, std::to_string(o.port), tcp::resolver::numeric_service, ec);
  if (ec || found.empty()) return Status::error("cannot resolve the address '" + o.host + "': " + ec.message());
  const tcp::endpoint ep = found.begin()->endpoint();
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    if (o.port == 0) return Status::error("cannot bind " + o.host + " on any port");
    return Status::error("cannot bind " + where + " (in use? try another --port, or --port 0 for any free one)");
  }
  port_ = a.local_endpoint().port();
  impl_->guard.set_port(port_);
  return ok_status();
}

void HttpServer::run() {
  auto& im = *impl_;
  net::post(im.strand, [&im] {
    if (!im.stopping) im.accept();
  });
  std::vector<std::thread> extra;
  for (int i = 1; i < im.opt.io_threads; ++i) extra.emplace_back([&im] { im.ioc.run(); });
  im.ioc.run();
  for (auto& t : extra) t.join();
  for (auto& c : im.live()) c->abandon();  // only after a grace period ran out
}

void HttpServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  net::post(impl_->strand, [im = impl_.get()] { im->begin_stop(); });
}

size_t HttpServer::open_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->conns.size();
}

}  // namespace dseek::server
