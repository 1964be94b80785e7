// See generate.h.
#include "runtime/generate.h"

#include <algorithm>
#include <chrono>

#include "model/step_arena.h"
#include "runtime/cache_budget.h"

namespace dseek {

Result<GenerateResult> generate(const Model& model, ThreadPool& pool, std::span<const int32_t> prompt, Sampler& sampler,
                                const GenerateOptions& opt, const std::function<bool(int32_t)>& on_token) {
  if (prompt.empty()) return Status::error("generate: the prompt is empty (add a BOS token or some text)");
  const int64_t n_ctx = opt.n_ctx > 0 ? opt.n_ctx : model.n_ctx();
  if (static_cast<int64_t>(prompt.size()) > n_ctx)
    return Status::error("the prompt has " + std::to_string(prompt.size()) + " tokens, more than the context of " +
                         std::to_string(n_ctx));
  if (Status st = check_cache_memory(model, n_ctx, 1, "the context size"); !st.ok()) return st;
  if (opt.spec.method != SpecConfig::Method::kNone) return generate_speculative(model, pool, prompt, sampler, opt, on_token);
  KvCache cache = model.new_cache(n_ctx);
  std::vector<float> logits(static_cast<size_t>(model.n_vocab()));
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  StepArena arena;  // one activation arena for the prompt and every decode step
  ForwardOptions last;
  last.all_logits = false;
  last.arena = &arena;
  GenerateResult res;
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  Status st = model.forward(prompt, cache, pool, last, logits.data());
  if (!st.ok()) return st;
  res.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  t0 = clock::now();
  while (static_cast<int64_t>(res.tokens.size()) < opt.max_new_tokens) {
    const int32_t tok = sampler.sample(logits, history);
    if (std::find(opt.stop_tokens.begin(), opt.stop_tokens.end(), tok) != opt.stop_tokens.end()) {
      res.stop = GenerateResult::Stop::kStopToken;
      break;
    }
    res.tokens.push_back(tok);
    history.push_back(tok);
    if (on_token && !on_token(tok)) {
      res.stop = GenerateResult::Stop::kCallback;
      break;
    }
    if (static_cast<int64_t>(res.tokens.size()) >= opt.max_new_tokens) break;  // kMaxTokens
    if (cache.n_past >= n_ctx) {  // no room to run the token just emitted
      res.stop = GenerateResult::Stop::kContextFull;
      break;
    }
    st = model.forward(std::span<const int32_t>(&tok, 1), cache, pool, last, logits.data());
    if (!st.ok()) return st;
  }
  res.decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  return res;
}

}  // namespace dseek
