// `dseek run`: generate a continuation of a prompt and stream it to stdout.
// --chat wraps the prompt in the model's chat template; R1-style reasoning
// (<think> ... </think>) is shown dimmed on a terminal. Timings go to stderr
// with --verbose. Exit 2 for bad input (model, prompt, parameters).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/ep_options.h"
#include "cli/load_model.h"
#include "model/model.h"
#include "runtime/cache_budget.h"
#include "runtime/chat_prompt.h"
#include "runtime/generate.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace dseek::cli {
namespace {

// Writes generated text, dimming reasoning between <think> and </think> on a terminal.
class ReasoningPrinter {
 public:
  ReasoningPrinter(const Tokenizer& tok, bool start_in_reasoning)
      : tty_(::isatty(STDOUT_FILENO) == 1), in_reasoning_(start_in_reasoning),
        open_(tok.token_id("<think>").value_or(-1)), close_(tok.token_id("</think>").value_or(-1)) {
    if (in_reasoning_) style(true);
  }
  ~ReasoningPrinter() {
    if (in_reasoning_) style(false);
  }
  // Prints `text` for token `id`; returns false if stdout is gone.
  bool print(int32_t id, const std::string& text) {
    if (id == open_ && open_ >= 0) {
      in_reasoning_ = true;
      style(true);
    }
    const bool ok = std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0;
    if (id == close_ && close_ >= 0) {
      in_reasoning_ = false;
      style(false);
    }
    return ok;
  }

 private:
  void style(bool reasoning) {
    if (tty_) std::fputs(reasoning ? "\033[2m" : "\033[0m", stdout);
  }
  bool tty_, in_reasoning_;
  int32_t open_, close_;
};

// `--chat`: the model's chat template with one optional system message and the
// user's. The command line is trusted: control-token text in it stays markup.
Result<ChatPrompt> chat_prompt(const std::string& model_path, const Tokenizer& tok, const std::string& system,
                               const std::string& user, bool thinking, const std::string& chat_format, std::string_view arch) {
  auto format = load_chat_format(model_path, tok, chat_format, arch);
  if (!format.ok()) return Status::error("--chat: the model's chat format: " + format.message());
  ChatPromptInput in;
  if (!system.empty()) in.messages.push_back({{"role", "system"}, {"content", system}});
  in.messages.push_back({{"role", "user"}, {"content", user}});
  in.template_kwargs = {{"thinking", thinking}};
  in.text = MessageText::kMarkup;
  return build_chat_prompt(*format, tok, in);
}

struct RunArgs {
  std::string model_path, prompt, system, mode = "auto", spec, chat_format = "auto";
  int64_t n_predict = 128, n_ctx = 0;
  int threads = 0;
  bool chat = false, verbose = false, thinking = false;
  int64_t seed = -1;
  SamplingParams sp;
  MapOptions map;
  EpOptions ep;
  std::vector<std::string> loras;
  KvCacheType cache_type = KvCacheType::kF32;
};

void add_options(CLI::App& app, RunArgs& a) {
  SamplingParams& sp = a.sp;
  app.add_option("-m,--model", a.model_path, "GGUF file or model directory")->required();
  app.add_option("-p,--prompt", a.prompt, "the prompt")->required();
  app.add_option("--lora", a.loras, "LoRA adapter GGUF applied at run time without merging, FILE or FILE:SCALE (repeat for several)");
  app.add_option("-n,--n-predict", a.n_predict, "tokens to generate")->capture_default_str();
  app.add_option("--temp", sp.temperature, "temperature (0: greedy)")->capture_default_str();
  app.add_option("--top-k", sp.top_k, "top-k (0: off)")->capture_default_str();
  app.add_option("--top-p", sp.top_p, "top-p (1: off)")->capture_default_str();
  app.add_option("--min-p", sp.min_p, "min-p (0: off)")->capture_default_str();
  app.add_option("--repeat-penalty", sp.repetition_penalty, "repetition penalty (1: off)")->capture_default_str();
  app.add_option("--presence-penalty", sp.presence_penalty, "presence penalty")->capture_default_str();
  app.add_option("--frequency-penalty", sp.frequency_penalty, "frequency penalty")->capture_default_str();
  app.add_option("--seed", a.seed, "random seed (default: random)");
  app.add_flag("--chat", a.chat, "apply the model's chat template to the prompt");
  app.add_option("--system", a.system, "system message (with --chat)");
  app.add_option("--chat-format", a.chat_format, "with --chat: auto | template | dsml | dsml-v4 (DeepSeek-V3.2's / V4's encoding; auto picks it for V3.2 / V4 models without a template)")->capture_default_str();
  app.add_flag("--think", a.thinking, "with --chat: ask templates that support it to start reasoning");
  app.add_option("-c,--ctx-size", a.n_ctx, "context size (default: the prompt + --n-predict, at most the model's)");
  app.add_option("--mode", a.mode, "MLA attention form: naive | absorbed | auto")->capture_default_str();
  app.add_option("-t,--threads", a.threads, "threads (default: all cores)");
  add_cache_type_option(app, &a.cache_type);
  add_ep_options(app, &a.ep);
  app.add_option("--spec", a.spec, "speculative decoding, same output: ngram[:N] (prompt lookup) or mtp[:N] (the model's MTP layer), N drafts per step");
  app.add_flag("-v,--verbose", a.verbose, "timings and the seed on stderr");
  app.add_flag("--mlock", a.map.lock, "lock the weights in RAM so they are never paged out");
  app.add_flag("--no-mmap", a.map.read_into_memory, "read the weights into memory at start instead of mapping the file");
}

Status check_args(const RunArgs& a) {
  if (Status st = validate(a.sp); !st.ok()) return st;
  if (a.n_predict < 0 || a.n_predict > (1 << 24)) return Status::error("--n-predict must be between 0 and 16777216");
  if (a.threads < 0 || a.threads > 1024) return Status::error("--threads must be between 1 and 1024");
  if (a.n_ctx < 0) return Status::error("--ctx-size must be positive");
  if (!valid_chat_format_name(a.chat_format)) return Status::error("--chat-format must be auto, template, dsml or dsml-v4");
  return parse_spec(a.spec).status();
}

// The prompt's tokens: the chat template's rendering with --chat, else the text as it is.
Result<ChatPrompt> prompt_tokens(const RunArgs& a, const std::string& model_path, const Tokenizer& tok, std::string_view arch) {
  if (a.chat) return chat_prompt(model_path, tok, a.system, a.prompt, a.thinking, a.chat_format, arch);
  ChatPrompt out;
  if (a.prompt.empty()) {
    if (tok.add_bos() && tok.bos_id() >= 0) out.ids = {tok.bos_id()};  // no text, so no SentencePiece dummy prefix
  } else {
    out.ids = tok.encode(a.prompt, {.parse_special = false, .add_bos = tok.add_bos()});
  }
  return out;
}

// Generates after `prompt`, streaming the text to stdout.
int generate_to_stdout(const Model& model, const Tokenizer& tok, const ChatPrompt& prompt, const RunArgs& a) {
  const std::vector<int32_t>& ids = prompt.ids;
  GenerateOptions opt;
  opt.max_new_tokens = a.n_predict;
  opt.spec = parse_spec(a.spec).value();  // checked in check_args
  // The cache holds what this run can use: the prompt and the tokens asked for, at most
  // the trained context. Reserving all of a 128K-token context for a short run would
  // take gigabytes for nothing; generation stops at the same point either way.
  const int64_t needed = static_cast<int64_t>(ids.size()) + a.n_predict;
  opt.n_ctx = a.n_ctx > 0 ? a.n_ctx : std::max<int64_t>(1, std::min(model.n_ctx(), needed));
  if (tok.eos_id() >= 0) opt.stop_tokens.push_back(tok.eos_id());
  if (static_cast<int64_t>(ids.size()) > opt.n_ctx)
    return report("the prompt has " + std::to_string(ids.size()) + " tokens, more than the context of " +
                  std::to_string(opt.n_ctx) + " (use a shorter prompt or --ctx-size)");
  if (Status st = check_cache_memory(model, opt.n_ctx, 1, a.n_ctx > 0 ? "--ctx-size" : "--n-predict or --ctx-size");
      !st.ok())
    return report(st);
  ThreadPool pool(a.threads > 0 ? a.threads : static_cast<int>(std::thread::hardware_concurrency()));
  Sampler sampler(a.sp);
  StreamDecoder stream(tok);
  for (int32_t id : ids) stream.push(id);  // so the continuation decodes as it follows the prompt
  ReasoningPrinter printer(tok, prompt.starts_in_reasoning);
  auto result = generate(model, pool, ids, sampler, opt, [&](int32_t id) { return printer.print(id, stream.push(id)); });
  if (!result.ok()) return report(result.status());
  const std::string rest = stream.flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fflush(stdout);
  if (a.verbose) {
    const auto& r = result.value();
    std::fprintf(stderr, "\nprompt %zu tokens in %.2f s (%.1f tok/s); generated %zu tokens in %.2f s (%.1f tok/s); seed %llu\n",
                 ids.size(), r.prefill_seconds, ids.size() / std::max(r.prefill_seconds, 1e-9), r.tokens.size(),
                 r.decode_seconds, r.tokens.size() / std::max(r.decode_seconds, 1e-9),
                 static_cast<unsigned long long>(a.sp.seed));
    if (opt.spec.method != SpecConfig::Method::kNone) {
      std::fprintf(stderr, "speculative (%s:%lld): %lld verifying forwards; acceptance per draft position:",
                   spec_method_name(opt.spec.method), static_cast<long long>(opt.spec.draft),
                   static_cast<long long>(r.spec.steps));
      for (size_t i = 0; i < r.spec.proposed.size(); ++i) std::fprintf(stderr, " %.2f", r.spec.acceptance(i));
      std::fprintf(stderr, "\n");
    }
  }
  if (result->stop == GenerateResult::Stop::kContextFull)
    std::fprintf(stderr, "\ndseek: stopped: the context of %lld tokens is full\n", static_cast<long long>(opt.n_ctx));
  return kExitOk;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  CLI::App app("Generate text from a prompt, streamed to stdout.", "run");
  RunArgs a;
  add_options(app, a);
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (Status st = check_args(a); !st.ok()) return report(st);
  a.sp.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();

  auto loaded = load_model_files(a.model_path, true, a.map, a.loras, a.cache_type, a.ep);
  if (!loaded.ok()) return report(loaded.status());
  auto prompt = prompt_tokens(a, loaded->files->path, *loaded->tokenizer, loaded->model->arch().name());
  if (!prompt.ok()) return report(prompt.status());
  if (prompt->ids.empty()) return report("the prompt encodes to no tokens and the model adds no BOS: give some text");
  return generate_to_stdout(*loaded->model, *loaded->tokenizer, *prompt, a);
}

}  // namespace dseek::cli
