// See http_server.h.
#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "server/response.h"
#include "server/web_assets.h"

namespace dseek::server {

using nlohmann::json;

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

struct HttpServer::Impl {
  ServerContext& ctx;
  HttpOptions opt;
  httplib::Server svr;

  std::atomic<bool> run_active{false}, stop_requested{false};

  Impl(ServerContext& c, const HttpOptions& o) : ctx(c), opt(o) {}

  static void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(dump_json(body), "application/json");
  }
  void send_error(httplib::Response& res, const ApiError& e) {
    if (e.status >= 500) ctx.metrics->requests_failed++;
    if (e.status == 429) res.set_header("Retry-After", "1");
    send_json(res, e.status, e.body());
  }

  bool authorised(const httplib::Request& req) const {
    if (opt.api_key.empty()) return true;
    const std::string h = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (h.size() <= prefix.size() || h.compare(0, prefix.size(), prefix) != 0) return false;
    return keys_match(h.substr(prefix.size()), opt.api_key);
  }

  void completion(const httplib::Request& req, httplib::Response& res, bool chat) {
    ctx.metrics->requests++;
    auto parsed = parse_completion_request(req.body, chat, ctx.limits);
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
    const CompletionParams& p = std::get<CompletionParams>(parsed);
    if (!p.model.empty() && p.model != ctx.alias)
      return send_error(res, ApiError{404, "invalid_request_error",
                                      "the model '" + p.model + "' does not exist; this server serves '" + ctx.alias + "'",
                                      "model", "model_not_found"});
    auto started = Session::start(ctx, p);
    if (auto* e = std::get_if<ApiError>(&started)) return send_error(res, *e);
    std::shared_ptr<Session> session = std::get<std::shared_ptr<Session>>(started);

    if (!p.stream) {
      ResponseBuilder b(ctx.alias, p, *session);
      std::vector<ChoiceDelta> deltas;
      while (session->poll(deltas, std::chrono::milliseconds(200))) {
        for (auto& d : deltas) b.add(d);
        deltas.clear();
      }
      if (!b.error().empty()) {
        ctx.metrics->requests_failed++;
        return send_json(res, 500, ApiError{500, "server_error", b.error(), "", ""}.body());
      }
      return send_json(res, 200, b.whole(session->usage()));
    }

    auto builder = std::make_shared<ResponseBuilder>(ctx.alias, p, *session);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [session, builder](size_t, httplib::DataSink& sink) {
          std::vector<ChoiceDelta> deltas;
          std::string out;
          if (!builder->started()) out += builder->first_chunks();
          const bool more = session->poll(deltas, std::chrono::milliseconds(100));
          for (auto& d : deltas) out += builder->chunk(d);
          if (!more) out += builder->last_chunks(session->usage());
          if (!out.empty() && !sink.write(out.data(), out.size())) {
            session->cancel();  // the client is gone
            return false;
          }
          if (out.empty() && !sink.is_writable()) {
            session->cancel();
            return false;
          }
          if (!more) sink.done();
          return true;
        },
        [session](bool success) {
          if (!success) session->cancel();
        });
  }

  void routes() {
    svr.set_payload_max_length(opt.max_body);
    svr.new_task_queue = [n = opt.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    svr.set_tcp_nodelay(true);  // small SSE chunks and JSON answers go out now, not after a delayed ACK
    svr.set_keep_alive_timeout(2);  // idle keep-alive connections do not hold up shutdown for long
    svr.set_read_timeout(30, 0);
    svr.set_write_timeout(30, 0);
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path.rfind("/v1/", 0) == 0 && !authorised(req)) {
        send_json(res, 401,
                  ApiError{401, "authentication_error",
                           "missing or wrong API key: send the header 'Authorization: Bearer <key>' with the key the server was started with",
                           "", "invalid_api_key"}
                      .body());
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      ApiError e{res.status, "invalid_request_error", "", "", ""};
      if (res.status == 404) e.message = "no route " + req.method + " " + req.path, e.code = "not_found";
      else if (res.status == 413) e.message = "the request body is too large (start the server with a larger --max-body)", e.code = "body_too_large";
      else if (res.status == 405) e.message = "method not allowed";
      else e.message = "HTTP error " + std::to_string(res.status), e.type = res.status >= 500 ? "server_error" : e.type;
      res.set_content(dump_json(e.body()), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }));
    svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:");
      res.set_content(std::string(kIndexHtml), "text/html; charset=utf-8");
    });
    svr.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, 200, {{"status", "ok"}}); });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(ctx.metrics->render(ctx.engine->stats()), "text/plain; version=0.0.4");
    });
    svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"object", "list"}, {"data", json::array({model_object()})}});
    });
    svr.Get("/v1/models/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.matches[1] != ctx.alias)
        return send_error(res, ApiError{404, "invalid_request_error", "the model '" + std::string(req.matches[1]) + "' does not exist", "model", "model_not_found"});
      send_json(res, 200, model_object());
    });
    svr.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, true); });
    svr.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, false); });
  }

  json model_object() const {
    return {{"id", ctx.alias}, {"object", "model"}, {"created", created}, {"owned_by", "dseek"}};
  }
  int64_t created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
};

namespace {

// cpp-httplib (Debian's build, 0.11) listens with a backlog of 5: a burst of
// clients overflows it and the kernel makes the extras retry after a second.
// Linux lets listen() be called again on a listening socket to enlarge it; the
// library keeps the socket private, so find it by its bound port.
void widen_listen_backlog(int port) {
  for (int fd = 3; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    const int bound = addr.ss_family == AF_INET    ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                      : addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                                   : -1;
    if (bound == port) ::listen(fd, SOMAXCONN);
  }
}

}  // namespace

HttpServer::HttpServer(ServerContext& ctx, const HttpOptions& opt) : impl_(std::make_unique<Impl>(ctx, opt)) {
  impl_->routes();
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::bind() {
  const auto& o = impl_->opt;
  if (o.port == 0) {
    port_ = impl_->svr.bind_to_any_port(o.host);
    if (port_ <= 0) return Status::error("cannot bind " + o.host + " on any port");
  } else {
    if (!impl_->svr.bind_to_port(o.host, o.port))
      return Status::error("cannot bind " + o.host + ":" + std::to_string(o.port) + " (in use? try another --port, or --port 0 for any free one)");
    port_ = o.port;
  }
  widen_listen_backlog(port_);
  return ok_status();
}


// httplib's stop() is a no-op until its accept loop has started, so a stop()
// that races ahead of run() would leave run() serving forever. The flags close
// that window: run() skips listening once a stop was asked for, and stop()
// waits for a starting run() to be listening before stopping it.
void HttpServer::run() {
  impl_->run_active = true;
  if (!impl_->stop_requested) impl_->svr.listen_after_bind();
  impl_->run_active = false;
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->stop_requested = true;
  while (impl_->run_active && !impl_->svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->svr.stop();
}

}  // namespace dseek::server
