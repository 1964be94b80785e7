// `dseek serve`: the OpenAI-compatible HTTP server. Loads the model once,
// starts the batching engine and the HTTP front, prints
// "dseek serve: listening on http://HOST:PORT" on stderr when ready, and
// stops cleanly on SIGINT / SIGTERM.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/load_model.h"
#include "model/model.h"
#include "runtime/engine.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dseek::cli {
namespace {

// Tokens that end an assistant turn in the chat formats dseek knows.
std::vector<int32_t> end_tokens(const Tokenizer& tok) {
  std::vector<int32_t> ids;
  if (tok.eos_id() >= 0) ids.push_back(tok.eos_id());
  for (const char* t : {"<｜end▁of▁sentence｜>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end_of_text|>"})
    if (auto id = tok.token_id(t); id && std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.push_back(*id);
  return ids;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  CLI::App app("Serve a model over an OpenAI-compatible HTTP API, with a chat page at /.", "serve");
  std::string model_path, alias;
  server::HttpOptions http;
  EngineOptions eng;
  eng.n_ctx = 4096;
  int64_t max_tokens = 0, max_n = 8;
  double timeout = 600;
  app.add_option("-m,--model", model_path, "GGUF file or model directory")->required();
  app.add_option("--host", http.host, "address to bind (127.0.0.1: this machine only)")->capture_default_str();
  app.add_option("--port", http.port, "port (0: any free port)")->capture_default_str();
  app.add_option("--api-key", http.api_key, "require 'Authorization: Bearer KEY' on /v1 routes");
  app.add_option("--parallel", eng.parallel, "requests decoded together")->capture_default_str();
  app.add_option("-c,--ctx", eng.n_ctx, "context per request (prompt + output), tokens")->capture_default_str();
  app.add_option("--model-alias", alias, "model id clients use (default: the file name without extension)");
  app.add_option("-t,--threads", eng.threads, "compute threads (default: all cores)");
  app.add_option("--queue", eng.queue_limit, "requests allowed to wait for a slot; beyond it: 429")->capture_default_str();
  app.add_option("--max-body", http.max_body, "largest request body, bytes")->capture_default_str();
  app.add_option("--max-tokens", max_tokens, "largest max_tokens a request may ask for (default: --ctx)");
  app.add_option("--max-n", max_n, "largest n (choices per request)")->capture_default_str();
  app.add_option("--timeout", timeout, "wall-time limit per request, seconds")->capture_default_str();
  app.add_option("--prefill-chunk", eng.prefill_chunk, "prompt tokens per batched step")->capture_default_str();
  MapOptions map;
  app.add_flag("--mlock", map.lock, "lock the weights in RAM so they are never paged out");
  app.add_flag("--no-mmap", map.read_into_memory, "read the weights into memory at start instead of mapping the file");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;

  if (eng.parallel < 1 || eng.parallel > 256) return report("--parallel must be between 1 and 256");
  if (eng.n_ctx < 16 || eng.n_ctx > (1 << 20)) return report("--ctx must be between 16 and 1048576");
  if (eng.queue_limit < 0 || eng.queue_limit > 100000) return report("--queue must be between 0 and 100000");
  if (eng.threads < 0 || eng.threads > 1024) return report("--threads must be between 1 and 1024");
  if (eng.prefill_chunk < 1 || eng.prefill_chunk > 65536) return report("--prefill-chunk must be between 1 and 65536");
  if (http.port < 0 || http.port > 65535) return report("--port must be between 0 and 65535");
  if (http.max_body < 1024 || http.max_body > (size_t{1} << 30)) return report("--max-body must be between 1024 and 1073741824");
  if (max_tokens < 0) return report("--max-tokens must be positive");
  if (max_n < 1 || max_n > 128) return report("--max-n must be between 1 and 128");
  if (!(timeout > 0)) return report("--timeout must be positive");

  auto loaded = load_model_files(model_path, true, map);
  if (!loaded.ok()) return report(loaded.status());
  const Tokenizer* tok = loaded->tokenizer.get();
  const std::shared_ptr<const Model>* model = &loaded->model;
  if (eng.n_ctx > (*model)->n_ctx())
    std::fprintf(stderr, "dseek serve: note: --ctx %lld is beyond the model's trained context of %lld\n",
                 static_cast<long long>(eng.n_ctx), static_cast<long long>((*model)->n_ctx()));

  server::Metrics metrics;
  server::ServerContext ctx;
  ctx.tokenizer = &*tok;
  ctx.metrics = &metrics;
  ctx.alias = alias.empty() ? std::filesystem::path(model_path).stem().string() : alias;
  ctx.limits.max_tokens = max_tokens > 0 ? max_tokens : eng.n_ctx;
  ctx.limits.max_n = max_n;
  ctx.timeout_seconds = timeout;
  ctx.end_tokens = end_tokens(*tok);
  ctx.token_bytes.resize(tok->vocab_size());
  for (size_t i = 0; i < ctx.token_bytes.size(); ++i)  // control tokens have no JSON text: masked in json_object mode
    if (!tok->is_control(static_cast<int32_t>(i))) ctx.token_bytes[i] = std::string(tok->token_bytes(static_cast<int32_t>(i)));
  if (auto src = load_chat_template(model_path); src.ok()) {
    auto t = ChatTemplate::parse(src->source);
    if (t.ok()) ctx.chat_template = std::move(t).value();
    else ctx.template_error = t.message();
    auto text_of = [&](int32_t id) { return id >= 0 ? std::string(tok->token_text(id)) : std::string(); };
    ctx.bos_text = src->bos_token.empty() ? text_of(tok->bos_id()) : src->bos_token;
    ctx.eos_text = src->eos_token.empty() ? text_of(tok->eos_id()) : src->eos_token;
  } else {
    ctx.template_error = src.message();
  }
  if (!ctx.chat_template) std::fprintf(stderr, "dseek serve: note: chat completions are off: %s\n", ctx.template_error.c_str());

  // Signals go to one watcher thread (blocked everywhere else), which stops the server.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server

  Engine engine(*model, eng);
  ctx.engine = &engine;
  http.threads = static_cast<int>(std::min<int64_t>(eng.parallel + eng.queue_limit + 8, 1024));
  server::HttpServer srv(ctx, http);
  if (Status st = srv.bind(); !st.ok()) return report(st);
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    srv.stop();
  });
  std::fprintf(stderr, "dseek serve: model '%s' (%s), %lld slots x %lld tokens, cache %.1f MiB\n", ctx.alias.c_str(),
               std::string((*model)->arch().name()).c_str(), static_cast<long long>(eng.parallel), static_cast<long long>(eng.n_ctx),
               static_cast<double>(engine.cache_bytes()) / (1 << 20));
  std::fprintf(stderr, "dseek serve: listening on http://%s:%d\n", http.host.c_str(), srv.port());
  std::fflush(stderr);
  srv.run();
  pthread_kill(watcher.native_handle(), SIGTERM);  // if run() ended by itself, release the watcher
  watcher.join();
  std::fprintf(stderr, "dseek serve: stopped\n");
  return kExitOk;
}

}  // namespace dseek::cli
