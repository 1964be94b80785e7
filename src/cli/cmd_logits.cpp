// `dseek logits`: run token ids as one prompt from an empty cache and write
// float32 little-endian logits for every position, row-major [n_tokens x n_vocab].
// Needs no tokenizer (ids in, logits out): the interface other tools compare with.
#include <cstdio>
#include <sstream>
#include <thread>
#include <climits>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/ep_options.h"
#include "cli/load_model.h"
#include "core/atomic_file.h"
#include "core/file_identity.h"
#include "model/model.h"

namespace dseek::cli {
namespace {

// --tokens: ids separated by spaces.
Result<std::vector<int32_t>> parse_token_ids(const std::string& text) {
  std::vector<int32_t> tokens;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    char* end = nullptr;
    const long long v = std::strtoll(tok.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v > INT32_MAX) return Status::error("--tokens: '" + tok + "' is not a token id");
    tokens.push_back(static_cast<int32_t>(v));
  }
  if (tokens.empty()) return Status::error("--tokens: no token ids given");
  return tokens;
}

}  // namespace

int cmd_logits(int argc, char** argv) {
  CLI::App app("Write the logits of every position of a token sequence (float32, [n_tokens x n_vocab]).", "logits");
  std::string model_path, tokens_arg, out, mode = "auto";
  int threads = 0;
  bool mtp = false;
  std::vector<std::string> loras;
  KvCacheType cache_type = KvCacheType::kF32;
  EpOptions ep_opt;
  app.add_option("-m,--model", model_path, "GGUF file or model directory")->required();
  app.add_option("--tokens", tokens_arg, "token ids separated by spaces, e.g. \"1 403 407\"")->required();
  app.add_option("-o,--output", out, "output file")->required();
  app.add_option("--mode", mode, kAttentionModeHelp)->capture_default_str();
  app.add_option("--lora", loras, "LoRA adapter GGUF applied at run time without merging, FILE or FILE:SCALE (repeat for several)");
  app.add_option("-t,--threads", threads, "threads (default: all cores)");
  add_cache_type_option(app, &cache_type);
  add_ep_options(app, &ep_opt);
  app.add_flag("--mtp", mtp, "write the MTP module's draft logits ([n_tokens-1 x n_vocab]) instead");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;

  auto parsed = parse_token_ids(tokens_arg);
  if (!parsed.ok()) return report(parsed.status());
  const std::vector<int32_t> tokens = std::move(parsed).value();
  ForwardOptions opt;
  if (!parse_attention_mode(mode, &opt.mode)) return report("--mode must be naive, absorbed or auto");
  if (threads < 0 || threads > 1024) return report("--threads must be between 1 and 1024");
  if (Status st = check_output_is_not_input(out, {model_path}); !st.ok()) return report(st);

  auto ep = EpStart::begin(ep_opt);
  if (!ep.ok()) return report(ep.status());
  auto files = open_with_adapters(model_path, {}, loras, cache_type, ep->executor());
  if (!files.ok()) return report(files.status());
  auto model = load_model(*files);
  if (!model.ok()) return report(model.status());
  if (Status st = ep->finish(**files, **model); !st.ok()) return report(st);
  const int64_t V = (*model)->n_vocab(), T = static_cast<int64_t>(tokens.size());
  if (T > (*model)->n_ctx())
    return report("the prompt has " + std::to_string(T) + " tokens, more than the model's context of " +
                  std::to_string((*model)->n_ctx()));
  ThreadPool pool(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<float> logits(static_cast<size_t>(T * V));
  Status st;
  if (mtp) {
    st = (*model)->forward_mtp(tokens, pool, logits.data());
    logits.resize(static_cast<size_t>((T - 1) * V));
  } else {
    KvCache cache = (*model)->new_cache(T);
    st = (*model)->forward(tokens, cache, pool, opt, logits.data());
  }
  if (!st.ok()) return report(st);
  const std::string_view bytes(reinterpret_cast<const char*>(logits.data()), logits.size() * sizeof(float));
  if (Status w = write_file_atomically(out, bytes); !w.ok()) return report(w);
  return kExitOk;
}

}  // namespace dseek::cli
