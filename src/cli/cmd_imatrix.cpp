// `dseek imatrix -m MODEL -f TEXT -o FILE`: the importance matrix of a model
// over a text, for `quantize --imatrix`. The text is tokenised with the
// model's tokenizer and cut into chunks of --chunk tokens (after BOS when the
// model adds one); each chunk runs from an empty cache while an
// ImatrixCollector sees every linear layer's input. The file is llama.cpp's
// imatrix GGUF, so llama.cpp's tools read it too.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/load_model.h"
#include "cli/tools/imatrix_collector.h"
#include "core/file_identity.h"
#include "core/progress.h"
#include "model/model.h"
#include "runtime/cache_budget.h"
#include "tokenizer/tokenizer.h"

namespace dseek::cli {
namespace {

struct ImatrixArgs {
  std::string model_path, text_path, out_path;
  int64_t chunk = 512, max_chunks = 0;
  int threads = 0;
};

// Runs `n_chunks` chunks of `ids` through the model with `collector` watching.
Status run_chunks(const Model& m, const Tokenizer& tok, const std::vector<int32_t>& ids, int64_t n_chunks, int64_t ctx,
                  int threads, ImatrixCollector& collector) {
  const bool bos = tok.add_bos() && tok.bos_id() >= 0;
  const int64_t body = ctx - (bos ? 1 : 0);
  ThreadPool pool(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<float> logits(static_cast<size_t>(ctx * m.n_vocab()));
  ProgressBar bar("imatrix", static_cast<uint64_t>(n_chunks));
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk;
    if (bos) chunk.push_back(tok.bos_id());
    chunk.insert(chunk.end(), ids.begin() + c * body, ids.begin() + (c + 1) * body);
    ForwardOptions fo;
    fo.observer = &collector;
    KvCache cache = m.new_cache(ctx);
    if (Status st = m.forward(chunk, cache, pool, fo, logits.data()); !st.ok()) return st;
    bar.update(static_cast<uint64_t>(c + 1));
  }
  return ok_status();
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int cmd_imatrix(int argc, char** argv) {
  CLI::App app("Compute an importance matrix (per weight column, the activation energy over a text) for quantize --imatrix.",
               "imatrix");
  ImatrixArgs a;
  app.add_option("-m,--model", a.model_path, "the model (GGUF file, f32/bf16/f16 or any quantisation)")->required();
  app.add_option("-f,--file", a.text_path, "text file to run the model over")->required();
  app.add_option("-o,--output", a.out_path, "the importance matrix to write (llama.cpp's imatrix GGUF)")->required();
  app.add_option("--chunk", a.chunk, "tokens per chunk (each from an empty cache)")->capture_default_str();
  app.add_option("--chunks", a.max_chunks, "run at most this many chunks (0: all)")->capture_default_str();
  app.add_option("-t,--threads", a.threads, "threads (default: all cores)");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (a.chunk < 2 || a.chunk > (1 << 20)) return report("--chunk must be between 2 and 1048576");
  if (a.max_chunks < 0) return report("--chunks must be 0 (all) or more");
  if (a.threads < 0 || a.threads > 1024) return report("--threads must be between 1 and 1024");
  if (Status st = check_output_is_not_input(a.out_path, {a.model_path, a.text_path}); !st.ok()) return report(st);
  auto text = read_text(a.text_path);
  if (!text.ok()) return report(text.status());
  auto loaded = load_model_files(a.model_path, true);
  if (!loaded.ok()) return report(loaded.status());
  if (!loaded->files->gguf)
    return report(a.model_path + ": imatrix needs a GGUF model (its tensor names key the matrix); convert it with quantize first");
  const Model& m = *loaded->model;
  const Tokenizer& tok = *loaded->tokenizer;
  const int64_t ctx = std::min(a.chunk, m.n_ctx());
  if (Status st = check_cache_memory(m, ctx, 1, "--chunk"); !st.ok()) return report(st);
  const std::vector<int32_t> ids = tok.encode(*text, EncodeOptions{false, false});
  const int64_t body = ctx - (tok.add_bos() && tok.bos_id() >= 0 ? 1 : 0);
  int64_t n_chunks = static_cast<int64_t>(ids.size()) / body;
  if (n_chunks == 0)
    return report(a.text_path + ": " + std::to_string(ids.size()) + " tokens, fewer than one chunk of " +
                  std::to_string(body) + " (use a longer text or a smaller --chunk)");
  if (a.max_chunks > 0) n_chunks = std::min(n_chunks, a.max_chunks);
  ImatrixCollector collector(*loaded->files->gguf);
  if (Status st = run_chunks(m, tok, ids, n_chunks, ctx, a.threads, collector); !st.ok()) return report(st);
  if (collector.n_matrices_seen() == 0)
    return report(a.model_path + ": no linear layer's weights lie in the file (converted at load?): nothing to write");
  if (Status st = collector.write(a.out_path, {{a.text_path}, n_chunks, ctx}); !st.ok()) return report(st);
  std::fprintf(stderr, "imatrix: %lld matrices over %lld chunks of %lld tokens -> %s\n",
               static_cast<long long>(collector.n_matrices_seen()), static_cast<long long>(n_chunks),
               static_cast<long long>(ctx), a.out_path.c_str());
  return kExitOk;
}

}  // namespace dseek::cli
