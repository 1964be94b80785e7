// `dseek kld`: quality of a quantised model against its base over a text —
// mean/median/p99/max KL divergence of the next-token distributions, top-1
// agreement, and both perplexities. The text is tokenised with the base
// model's tokenizer and cut into chunks of --ctx tokens; every position but
// the last of a chunk is scored (it predicts the next token of the chunk).
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/load_model.h"
#include "runtime/cache_budget.h"
#include "core/progress.h"
#include "model/model.h"
#include "cli/tools/kld.h"
#include "tokenizer/tokenizer.h"

namespace dseek::cli {
namespace {

struct KldArgs {
  std::string quant_path, base_path, text_path;
  int64_t ctx = 256, max_chunks = 0;
  int threads = 0;
  bool as_json = false;
  KvCacheType cache_type = KvCacheType::kF32;  // -m's cache; the base always runs f32
};

// Scores `n_chunks` chunks of `ids` (each `body` tokens, after BOS when the model adds one).
Result<KldSummary> score_chunks(const Model& mb, const Model& mq, const Tokenizer& tok, const std::vector<int32_t>& ids,
                                int64_t n_chunks, int64_t ctx, int threads) {
  const bool bos = tok.add_bos() && tok.bos_id() >= 0;
  const int64_t body = ctx - (bos ? 1 : 0);
  ThreadPool pool(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  const int64_t V = mb.n_vocab();
  std::vector<float> lb(static_cast<size_t>(ctx * V)), lq(lb.size());
  KldAccumulator acc;
  ProgressBar bar("kld", static_cast<uint64_t>(n_chunks));
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk;
    if (bos) chunk.push_back(tok.bos_id());
    chunk.insert(chunk.end(), ids.begin() + c * body, ids.begin() + (c + 1) * body);
    ForwardOptions fo;
    KvCache cb = mb.new_cache(ctx), cq = mq.new_cache(ctx);
    if (Status st = mb.forward(chunk, cb, pool, fo, lb.data()); !st.ok()) return st;
    if (Status st = mq.forward(chunk, cq, pool, fo, lq.data()); !st.ok()) return st;
    for (size_t i = 0; i + 1 < chunk.size(); ++i)
      acc.add(lb.data() + i * V, lq.data() + i * V, V, chunk[i + 1]);
    bar.update(static_cast<uint64_t>(c + 1));
  }
  return acc.summary();
}

void print_summary(const KldArgs& a, const KldSummary& s, int64_t n_chunks, int64_t ctx) {
  if (a.as_json) {
    const nlohmann::json j = {{"base", a.base_path}, {"model", a.quant_path}, {"chunks", n_chunks}, {"ctx", ctx},
                              {"positions", s.positions}, {"kld_mean", s.kld_mean}, {"kld_stderr", s.kld_stderr},
                              {"kld_median", s.kld_median}, {"kld_p99", s.kld_p99}, {"kld_max", s.kld_max},
                              {"top1_agreement", s.top1_agreement}, {"ppl_base", s.ppl_base}, {"ppl_model", s.ppl_quant}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("scored %lld positions in %lld chunks of %lld tokens\n", static_cast<long long>(s.positions),
              static_cast<long long>(n_chunks), static_cast<long long>(ctx));
  std::printf("KL divergence  mean %.6f ± %.6f  median %.6f  p99 %.6f  max %.6f nats\n", s.kld_mean, s.kld_stderr,
              s.kld_median, s.kld_p99, s.kld_max);
  std::printf("top-1 agreement %.2f %%\n", 100.0 * s.top1_agreement);
  std::printf("perplexity     base %.4f  model %.4f  (ratio %.4f)\n", s.ppl_base, s.ppl_quant, s.ppl_quant / s.ppl_base);
}

}  // namespace

int cmd_kld(int argc, char** argv) {
  CLI::App app("KL divergence, top-1 agreement and perplexity of a quantised model against its base over a text.", "kld");
  KldArgs a;
  app.add_option("-m,--model", a.quant_path, "the quantised model (GGUF file or model directory)")->required();
  app.add_option("--base", a.base_path, "the base model it was made from")->required();
  app.add_option("-f,--file", a.text_path, "text file to score")->required();
  app.add_option("-c,--ctx", a.ctx, "tokens per chunk")->capture_default_str();
  app.add_option("--chunks", a.max_chunks, "score at most this many chunks (0: all)")->capture_default_str();
  app.add_option("-t,--threads", a.threads, "threads (default: all cores)");
  app.add_flag("--json", a.as_json, "one JSON object on stdout");
  add_cache_type_option(app, &a.cache_type)
      ->description("-m's MLA latent cache: f32 | bf16 | fp8 (the base runs f32; -m may be the base itself)");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (a.ctx < 2 || a.ctx > (1 << 20)) return report("--ctx must be between 2 and 1048576");
  if (a.max_chunks < 0) return report("--chunks must be positive");
  if (a.threads < 0 || a.threads > 1024) return report("--threads must be between 1 and 1024");

  std::ifstream in(a.text_path, std::ios::binary);
  if (!in) return report(a.text_path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  auto base = load_model_files(a.base_path, true);
  if (!base.ok()) return report(base.status());
  auto quant = load_model_files(a.quant_path, false, {}, {}, a.cache_type);
  if (!quant.ok()) return report(quant.status());
  const Model& mb = *base->model;
  if (mb.n_vocab() != quant->model->n_vocab())
    return report("the models have different vocabularies (" + std::to_string(mb.n_vocab()) + " and " +
                  std::to_string(quant->model->n_vocab()) + " tokens): compare a model with its own quantisation");
  const Tokenizer& tok = *base->tokenizer;
  const int64_t ctx = std::min(a.ctx, mb.n_ctx());
  if (Status st = check_cache_memory(mb, ctx, 2, "--ctx"); !st.ok()) return report(st);  // one cache per model

  const std::vector<int32_t> ids = tok.encode(ss.str(), EncodeOptions{false, false});
  const int64_t body = ctx - (tok.add_bos() && tok.bos_id() >= 0 ? 1 : 0);
  int64_t n_chunks = static_cast<int64_t>(ids.size()) / body;
  if (n_chunks == 0) return report(a.text_path + ": " + std::to_string(ids.size()) + " tokens, fewer than one chunk of " + std::to_string(body) + " (use a longer text or a smaller --ctx)");
  if (a.max_chunks > 0) n_chunks = std::min(n_chunks, a.max_chunks);
  auto s = score_chunks(mb, *quant->model, tok, ids, n_chunks, ctx, a.threads);
  if (!s.ok()) return report(s.status());
  print_summary(a, *s, n_chunks, ctx);
  return kExitOk;
}

}  // namespace dseek::cli
