// The speculative decode loop (see speculative.h and generate.h). Each step:
// the drafter proposes d_1..d_k after the pending token t; one forward over
// [t, d_1..d_k] gives k + 1 rows of logits; row i decides d_{i+1}
// (Sampler::verify_draft) until one is rejected, whose replacement — or,
// when all stand, a token sampled from row k — becomes the next pending
// token; the cache is cut back to t and the accepted drafts.
#include <algorithm>
#include <chrono>

#include "model/step_arena.h"
#include "runtime/generate.h"

namespace dseek {
namespace {

class SpecLoop {
 public:
  SpecLoop(const Model& model, ThreadPool& pool, std::span<const int32_t> prompt, Sampler& sampler,
           const GenerateOptions& opt, const std::function<bool(int32_t)>& on_token, Drafter& drafter, int64_t n_ctx)
      : model_(model), pool_(pool), sampler_(sampler), opt_(opt), on_token_(on_token), drafter_(drafter),
        n_ctx_(n_ctx), n_prompt_(static_cast<int64_t>(prompt.size())), cache_(model.new_cache(n_ctx)),
        history_(prompt.begin(), prompt.end()) {}

  Result<GenerateResult> run();

 private:
  Status run_trunk(std::span<const int32_t> tokens, bool all_rows);
  Status step(int32_t& pending, bool& more);
  bool emit(int32_t tok);

  const Model& model_;
  ThreadPool& pool_;
  Sampler& sampler_;
  const GenerateOptions& opt_;
  const std::function<bool(int32_t)>& on_token_;
  Drafter& drafter_;
  const int64_t n_ctx_, n_prompt_;
  KvCache cache_;
  std::vector<int32_t> history_, drafts_, batch_;
  std::vector<float> logits_, hidden_;
  StepArena arena_;
  GenerateResult res_;
};

// Runs `tokens` at the cache's end, passing the hidden states on to the drafter.
Status SpecLoop::run_trunk(std::span<const int32_t> tokens, bool all_rows) {
  const int64_t n = static_cast<int64_t>(tokens.size()), pos0 = cache_.n_past;
  logits_.resize(static_cast<size_t>((all_rows ? n : 1) * model_.n_vocab()));
  ForwardOptions fo;
  fo.all_logits = all_rows;
  fo.arena = &arena_;
  if (drafter_.wants_hidden()) {
    hidden_.resize(static_cast<size_t>(n * model_.mtp_hidden_width()));
    fo.hidden = hidden_.data();
  }
  if (Status st = model_.forward(tokens, cache_, pool_, fo, logits_.data()); !st.ok()) return st;
  drafter_.on_trunk(pos0, fo.hidden, n);
  return ok_status();
}

// Emits one token with generate()'s stop rules; false when generation ends.
bool SpecLoop::emit(int32_t tok) {
  using Stop = GenerateResult::Stop;
  auto end = [&](Stop why) {
    res_.stop = why;
    return false;
  };
  if (std::find(opt_.stop_tokens.begin(), opt_.stop_tokens.end(), tok) != opt_.stop_tokens.end())
    return end(Stop::kStopToken);
  res_.tokens.push_back(tok);
  history_.push_back(tok);
  const int64_t emitted = static_cast<int64_t>(res_.tokens.size());
  if (on_token_ && !on_token_(tok)) return end(Stop::kCallback);
  if (emitted >= opt_.max_new_tokens) return end(Stop::kMaxTokens);
  // The plain loop's test before running the token: is there a cache position for it?
  if (n_prompt_ + emitted - 1 >= n_ctx_) return end(Stop::kContextFull);
  return true;
}

// One draft-and-verify step after `pending` (emitted, not yet run).
Status SpecLoop::step(int32_t& pending, bool& more) {
  const int64_t n0 = cache_.n_past, V = model_.n_vocab();
  const int64_t room = std::min(n_ctx_ - n0 - 1, opt_.max_new_tokens - static_cast<int64_t>(res_.tokens.size()));
  drafts_.clear();
  if (const int64_t k = std::min(opt_.spec.draft, room); k > 0)
    if (Status st = drafter_.propose(history_, k, drafts_); !st.ok()) return st;
  batch_.assign(1, pending);
  batch_.insert(batch_.end(), drafts_.begin(), drafts_.end());
  if (Status st = run_trunk(batch_, true); !st.ok()) return st;
  ++res_.spec.steps;
  size_t accepted = 0;
  for (; accepted < drafts_.size(); ++accepted) {
    const auto row = std::span<const float>(logits_).subspan(accepted * V, static_cast<size_t>(V));
    const Sampler::Verdict v = sampler_.verify_draft(row, history_, drafts_[accepted]);
    res_.spec.count(accepted, v.accepted);
    if (!v.accepted) {
      pending = v.token;
      break;
    }
    if (!emit(v.token)) {
      more = false;
      return ok_status();
    }
  }
  if (accepted == drafts_.size())
    pending = sampler_.sample(std::span<const float>(logits_).subspan(accepted * V, static_cast<size_t>(V)), history_);
  cache_.n_past = n0 + 1 + static_cast<int64_t>(accepted);  // drop the rejected drafts' rows
  drafter_.rollback(cache_.n_past);
  more = emit(pending);
  return ok_status();
}

Result<GenerateResult> SpecLoop::run() {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  if (Status st = run_trunk(history_, false); !st.ok()) return st;
  res_.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  t0 = clock::now();
  if (opt_.max_new_tokens > 0) {
    int32_t pending = sampler_.sample(logits_, history_);
    bool more = emit(pending);
    while (more)
      if (Status st = step(pending, more); !st.ok()) return st;
  }
  res_.decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  return std::move(res_);
}

}  // namespace

Result<GenerateResult> generate_speculative(const Model& model, ThreadPool& pool, std::span<const int32_t> prompt,
                                            Sampler& sampler, const GenerateOptions& opt,
                                            const std::function<bool(int32_t)>& on_token) {
  const int64_t n_ctx = opt.n_ctx > 0 ? opt.n_ctx : model.n_ctx();
  auto drafter = make_drafter(opt.spec, model, pool, n_ctx);
  if (!drafter.ok()) return drafter.status();
  SpecLoop loop(model, pool, prompt, sampler, opt, on_token, **drafter, n_ctx);
  return loop.run();
}

}  // namespace dseek
