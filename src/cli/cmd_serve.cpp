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
#include "cli/ep_options.h"
#include "cli/load_model.h"
#include "model/model.h"
#include "runtime/cache_budget.h"
#include "runtime/chat_prompt.h"
#include "runtime/engine.h"
#include "runtime/speculative.h"
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

struct ServeArgs {
  std::string model_path;
  std::vector<std::string> aliases;
  server::HttpOptions http;
  EngineOptions eng;
  int64_t max_tokens = 0, max_n = 8;
  double timeout = 600;
  MapOptions map;
  EpOptions ep;
  std::vector<std::string> loras;
  std::string spec;
  std::string chat_format = "auto";
  KvCacheType cache_type = KvCacheType::kF32;
};

void add_options(CLI::App& app, ServeArgs& a) {
  a.eng.n_ctx = 4096;
  app.add_option("-m,--model", a.model_path, "GGUF file or model directory")->required();
  app.add_option("--lora", a.loras, "LoRA adapter GGUF applied at run time without merging, FILE or FILE:SCALE (repeat for several)");
  app.add_option("--host", a.http.host, "address to bind (127.0.0.1: this machine only)")->capture_default_str();
  app.add_option("--port", a.http.port, "port (0: any free port)")->capture_default_str();
  app.add_option("--api-key", a.http.api_key, "require 'Authorization: Bearer KEY' (or 'x-api-key: KEY') on the API routes");
  app.add_option("--parallel", a.eng.parallel, "requests decoded together")->capture_default_str();
  app.add_option("-c,--ctx", a.eng.n_ctx, "context per request (prompt + output), tokens")->capture_default_str();
  app.add_option("--model-alias", a.aliases, "a model id clients use, e.g. deepseek-chat (repeatable; default: the file name without extension)");
  app.add_option("-t,--threads", a.eng.threads, "compute threads (default: all cores)");
  add_cache_type_option(app, &a.cache_type);
  add_ep_options(app, &a.ep);
  app.add_option("--queue", a.eng.queue_limit, "requests allowed to wait for a slot; beyond it: 429")->capture_default_str();
  app.add_option("--max-body", a.http.max_body, "largest request body, bytes")->capture_default_str();
  app.add_option("--max-tokens", a.max_tokens, "largest max_tokens a request may ask for (default: --ctx)");
  app.add_option("--max-n", a.max_n, "largest n (choices per request)")->capture_default_str();
  app.add_option("--timeout", a.timeout, "wall-time limit per request, seconds")->capture_default_str();
  app.add_option("--prefill-chunk", a.eng.prefill_chunk, "prompt tokens per batched step")->capture_default_str();
  app.add_option("--metrics-key", a.http.metrics_key, "serve /metrics to 'Authorization: Bearer KEY' (default: loopback clients only)");
  app.add_option("--cors-origin", a.http.cors_origins, "a browser origin allowed besides the server's own, e.g. https://app.example (repeatable; * allows any)");
  app.add_option("--chat-format", a.chat_format, "auto | template (the model's Jinja template) | dsml | dsml-v4 (DeepSeek-V3.2's / V4's encoding; auto picks it for V3.2 / V4 models without a template)")->capture_default_str();
  app.add_option("--max-connections", a.http.max_connections, "open connections; beyond it: 503 and close")->capture_default_str();
  app.add_option("--http-threads", a.http.io_threads, "HTTP event-loop threads")->capture_default_str();
  app.add_option("--header-timeout", a.http.header_timeout, "seconds a client has to send a request's headers")->capture_default_str();
  app.add_option("--body-timeout", a.http.body_timeout, "seconds a client has to send a request's body")->capture_default_str();
  app.add_option("--idle-timeout", a.http.idle_timeout, "seconds a keep-alive connection may wait for its next request")->capture_default_str();
  app.add_option("--write-timeout", a.http.write_timeout, "seconds a client may take to read one write of an answer")->capture_default_str();
  app.add_option("--spec", a.spec, "speculative decoding, same output: ngram[:N] (prompt lookup) or mtp[:N] (the model's MTP layer), N drafts per step; constrained output (json, tools, logit_bias) decodes without drafts");
  app.add_flag("--mlock", a.map.lock, "lock the weights in RAM so they are never paged out");
  app.add_flag("--no-mmap", a.map.read_into_memory, "read the weights into memory at start instead of mapping the file");
}

// The first option out of range, or "".
std::string out_of_range(const ServeArgs& a) {
  const EngineOptions& eng = a.eng;
  if (eng.parallel < 1 || eng.parallel > 256) return "--parallel must be between 1 and 256";
  if (eng.n_ctx < 16 || eng.n_ctx > (1 << 20)) return "--ctx must be between 16 and 1048576";
  if (eng.queue_limit < 0 || eng.queue_limit > 100000) return "--queue must be between 0 and 100000";
  if (eng.threads < 0 || eng.threads > 1024) return "--threads must be between 1 and 1024";
  if (eng.prefill_chunk < 1 || eng.prefill_chunk > 65536) return "--prefill-chunk must be between 1 and 65536";
  if (a.http.port < 0 || a.http.port > 65535) return "--port must be between 0 and 65535";
  if (a.http.max_body < 1024 || a.http.max_body > (size_t{1} << 30)) return "--max-body must be between 1024 and 1073741824";
  if (a.http.max_connections < 1 || a.http.max_connections > 1000000) return "--max-connections must be between 1 and 1000000";
  if (a.http.io_threads < 1 || a.http.io_threads > 64) return "--http-threads must be between 1 and 64";
  for (double t : {a.http.header_timeout, a.http.body_timeout, a.http.idle_timeout, a.http.write_timeout})
    if (!(t > 0 && t <= 86400)) return "--header-timeout, --body-timeout, --idle-timeout and --write-timeout must be between 0 and 86400 seconds";
  if (a.max_tokens < 0) return "--max-tokens must be positive";
  if (a.max_n < 1 || a.max_n > 128) return "--max-n must be between 1 and 128";
  if (!(a.timeout > 0)) return "--timeout must be positive";
  if (!valid_chat_format_name(a.chat_format)) return "--chat-format must be auto, template, dsml or dsml-v4";
  return {};
}

// Everything a request needs but the engine (started later, once signals are blocked).
void fill_context(const ServeArgs& a, const Tokenizer& tok, std::string_view arch, server::Metrics& metrics,
                  server::ServerContext& ctx) {
  ctx.tokenizer = &tok;
  ctx.metrics = &metrics;
  ctx.aliases = a.aliases;
  if (ctx.aliases.empty()) ctx.aliases.push_back(std::filesystem::path(a.model_path).stem().string());
  ctx.alias = ctx.aliases.front();
  ctx.limits.max_tokens = a.max_tokens > 0 ? a.max_tokens : a.eng.n_ctx;
  ctx.limits.max_n = a.max_n;
  ctx.timeout_seconds = a.timeout;
  ctx.end_tokens = end_tokens(tok);
  ctx.token_bytes.resize(tok.vocab_size());
  for (size_t i = 0; i < ctx.token_bytes.size(); ++i)  // control tokens have no JSON text: masked in json_object mode
    if (!tok.is_control(static_cast<int32_t>(i))) ctx.token_bytes[i] = std::string(tok.token_bytes(static_cast<int32_t>(i)));
  ctx.constraint_vocab = std::make_shared<const ConstraintVocab>(tok);
  auto f = load_chat_format(a.model_path, tok, a.chat_format, arch);
  if (f.ok()) ctx.chat_format = std::move(f).value();
  else ctx.template_error = f.message();
  if (!ctx.chat_format) std::fprintf(stderr, "dseek serve: note: chat completions are off: %s\n", ctx.template_error.c_str());
}

// Runs the engine and the HTTP server until SIGINT / SIGTERM.
int serve(const std::shared_ptr<const Model>& model, ServeArgs& a, server::ServerContext& ctx) {
  // Signals go to one watcher thread (blocked everywhere else), which stops the server.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server

  // The page pool holds --parallel full contexts: check it fits before allocating it.
  if (Status st = check_cache_memory(*model, a.eng.n_ctx, a.eng.parallel, "--ctx or --parallel"); !st.ok()) return report(st);
  Engine engine(model, a.eng);
  ctx.engine = &engine;
  ctx.arch = std::string(model->arch().name());
  server::HttpServer srv(ctx, a.http);
  if (Status st = srv.bind(); !st.ok()) return report(st);
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    srv.stop();
  });
  std::fprintf(stderr, "dseek serve: model '%s' (%s), %lld slots x %lld tokens, cache %.1f MiB\n", ctx.alias.c_str(),
               std::string(model->arch().name()).c_str(), static_cast<long long>(a.eng.parallel),
               static_cast<long long>(a.eng.n_ctx), static_cast<double>(engine.cache_bytes()) / (1 << 20));
  if (engine.options().spec.method != SpecConfig::Method::kNone)  // the engine may have turned it off
    std::fprintf(stderr, "dseek serve: speculative decoding: %s, %lld drafts per step\n", spec_method_name(a.eng.spec.method),
                 static_cast<long long>(a.eng.spec.draft));
  std::fprintf(stderr, "dseek serve: listening on http://%s:%d\n", a.http.host.c_str(), srv.port());
  std::fflush(stderr);
  srv.run();
  pthread_kill(watcher.native_handle(), SIGTERM);  // if run() ended by itself, release the watcher
  watcher.join();
  std::fprintf(stderr, "dseek serve: stopped\n");
  return kExitOk;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  CLI::App app("Serve a model over an OpenAI-compatible HTTP API, with a chat page at /.", "serve");
  ServeArgs a;
  add_options(app, a);
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (std::string bad = out_of_range(a); !bad.empty()) return report(bad);
  auto spec = parse_spec(a.spec);
  if (!spec.ok()) return report(spec.status());
  a.eng.spec = spec.value();

  auto loaded = load_model_files(a.model_path, true, a.map, a.loras, a.cache_type, a.ep);
  if (!loaded.ok()) return report(loaded.status());
  const std::shared_ptr<const Model>& model = loaded->model;
  if (Status st = check_spec(a.eng.spec, *model); !st.ok()) return report(st);
  if (a.eng.n_ctx > model->n_ctx())
    std::fprintf(stderr, "dseek serve: note: --ctx %lld is beyond the model's trained context of %lld\n",
                 static_cast<long long>(a.eng.n_ctx), static_cast<long long>(model->n_ctx()));
  server::Metrics metrics;
  server::ServerContext ctx;
  fill_context(a, *loaded->tokenizer, model->arch().name(), metrics, ctx);
  return serve(model, a, ctx);
}

}  // namespace dseek::cli
