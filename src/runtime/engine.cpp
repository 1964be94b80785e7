// See engine.h.
#include "runtime/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "runtime/engine_spec.h"

namespace dseek {

struct Engine::Sequence {
  EngineRequest req;
  std::shared_ptr<Handle> handle;
  KvCache cache;
  std::vector<int32_t> history;  // prompt, then generated tokens; cache.n_past of them have cache rows
  int64_t n_prompt = 0, cached = 0, generated = 0;
  bool prompt_registered = false;
  bool done = false;  // finished; removed from the active list after this step
  Sampler sampler;
  SequenceSpec spec;  // drafts (off unless --spec and the output is unconstrained)

  Sequence(EngineRequest r, KvCache c)
      : req(std::move(r)), handle(std::make_shared<Handle>()), cache(std::move(c)), sampler(req.sampling) {}
};

namespace {

int hardware_threads(int64_t asked) {
  if (asked > 0) return static_cast<int>(asked);
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int64_t pages_for(int64_t tokens, int64_t page_tokens) { return (tokens + page_tokens - 1) / page_tokens; }

// log p(token) and the top alternatives from raw logits (log-softmax).
void logprobs(const float* logits, int64_t n_vocab, int32_t token, int32_t n_top, TokenEvent& ev) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double log_z = mx + std::log(sum);
  ev.logprob = static_cast<float>(logits[token] - log_z);
  if (n_top <= 0) return;
  std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
  for (int64_t i = 0; i < n_vocab; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  const int64_t k = std::min<int64_t>(n_top, n_vocab);
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  for (int64_t i = 0; i < k; ++i)
    ev.top.emplace_back(ids[static_cast<size_t>(i)], static_cast<float>(logits[ids[static_cast<size_t>(i)]] - log_z));
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, const EngineOptions& opt)
    : model_(std::move(model)), opt_(opt), pool_(hardware_threads(opt.threads)),
      pages_(model_->new_cache(1).n_layer(), model_->new_cache(1).width(), opt.page_tokens,
             opt.parallel * pages_for(opt.n_ctx, opt.page_tokens)),
      prefix_(pages_) {
  // A model whose caches carry per-sequence state beyond the pages (DeepSeek-V4's
  // compressed attention: kv_cache.h, CacheExtension) cannot resume from shared
  // pages nor roll drafts back, so neither prefix reuse nor speculation runs for it.
  rewinds_ = model_->new_cache_extension() == nullptr;
  if (!rewinds_) {
    std::fprintf(stderr, "dseek: note: %s keeps compressed-attention state per sequence: prefix reuse%s are off\n",
                 std::string(model_->arch().name()).c_str(),
                 opt_.spec.method != SpecConfig::Method::kNone ? " and speculative decoding" : "");
    opt_.spec.method = SpecConfig::Method::kNone;
  }
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& s : active_) finish(*s, FinishReason::kCancelled);
  for (auto& s : waiting_) {
    FinishEvent ev{FinishReason::kCancelled, {}, s->n_prompt, 0, 0};
    if (s->req.on_finish) s->req.on_finish(ev);
  }
}

Engine::Submitted Engine::submit(EngineRequest req) {
  Submitted out;
  const int64_t n = static_cast<int64_t>(req.prompt.size());
  if (n == 0) return {nullptr, SubmitError::kInvalid, "the prompt is empty"};
  if (n >= opt_.n_ctx)
    return {nullptr, SubmitError::kInvalid,
            "the prompt has " + std::to_string(n) + " tokens; this server's context holds " + std::to_string(opt_.n_ctx) +
                " tokens including the output (start the server with a larger --ctx or shorten the prompt)"};
  for (int32_t t : req.prompt)
    if (t < 0 || t >= model_->n_vocab()) return {nullptr, SubmitError::kInvalid, "token id " + std::to_string(t) + " is outside the vocabulary"};
  if (req.max_tokens <= 0) return {nullptr, SubmitError::kInvalid, "max_tokens must be at least 1"};
  auto seq = std::make_unique<Sequence>(std::move(req), pages_.view());
  seq->cache.extension = model_->new_cache_extension();
  seq->n_prompt = n;
  seq->history = seq->req.prompt;
  out.handle = seq->handle;
  {
    std::lock_guard lock(mu_);
    // A request that a free slot will take at the next admission is not waiting
    // for a slot: only requests beyond the free slots count against --queue.
    const int64_t free_slots = std::max<int64_t>(0, opt_.parallel - n_active_);
    if (static_cast<int64_t>(waiting_.size()) >= opt_.queue_limit + free_slots)
      return {nullptr, SubmitError::kBusy, "the server is busy: " + std::to_string(waiting_.size()) + " requests are already waiting"};
    waiting_.push_back(std::move(seq));
  }
  cv_.notify_all();
  return out;
}

EngineStats Engine::stats() const {
  std::lock_guard lock(mu_);
  EngineStats s;
  s.active = n_active_;
  s.waiting = static_cast<int64_t>(waiting_.size());
  s.pages_total = pages_.n_pages();
  s.pages_used = stat_pages_used_;
  s.cached_pages = stat_cached_pages_;
  s.steps = steps_;
  s.spec = opt_.spec.method != SpecConfig::Method::kNone;
  s.spec_drafted = spec_drafted_.load();
  s.spec_accepted = spec_accepted_.load();
  return s;
}

void Engine::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !waiting_.empty() || !active_.empty(); });
      if (stop_) return;
    }
    // Admit what fits between steps; admission touches only engine-thread state.
    while (static_cast<int64_t>(active_.size()) < opt_.parallel) {
      std::unique_ptr<Sequence> s;
      {
        std::lock_guard lock(mu_);
        if (waiting_.empty()) break;
        s = std::move(waiting_.front());
        waiting_.pop_front();
        n_active_ = static_cast<int64_t>(active_.size()) + 1;  // submit() sees the slot taken at once
      }
      if (admit(*s)) active_.push_back(std::move(s));
    }
    step();
    std::erase_if(active_, [](const std::unique_ptr<Sequence>& s) { return s->done; });
    std::lock_guard lock(mu_);
    n_active_ = static_cast<int64_t>(active_.size());
    publish_page_stats();
    ++steps_;
  }
}

bool Engine::admit(Sequence& s) {
  if (s.handle->cancelled()) {
    finish(s, FinishReason::kCancelled);
    return false;
  }
  // Reuse cached pages, but always leave the prompt's last token to compute:
  // its logits start the answer, and its row goes into a page this sequence owns.
  const int64_t P = opt_.page_tokens;
  if (rewinds_) s.cache.pages() = prefix_.lookup(s.history, (s.n_prompt - 1) / P);
  s.cached = static_cast<int64_t>(s.cache.pages().size()) * P;
  s.cache.n_past = s.cached;
  return start_spec(s);
}

bool Engine::ensure_pages(Sequence& s, int64_t n_new) {
  while (s.cache.n_ctx() < s.cache.n_past + n_new) {
    std::optional<int32_t> p = pages_.alloc();
    while (!p && prefix_.evict_one()) p = pages_.alloc();
    if (!p) return false;
    s.cache.pages().push_back(*p);
  }
  return true;
}

void Engine::publish_page_stats() {
  stat_pages_used_ = pages_.n_pages() - pages_.n_free();
  stat_cached_pages_ = prefix_.n_cached_pages();
}

void Engine::finish(Sequence& s, FinishReason reason, const std::string& error) {
  // Rows past the history are drafts that ran but were never delivered (the request ended inside them).
  s.cache.n_past = std::min<int64_t>(s.cache.n_past, static_cast<int64_t>(s.history.size()));
  // Keep what this request computed for the next one (its conversation's next turn).
  const auto computed = std::span<const int32_t>(s.history).first(static_cast<size_t>(s.cache.n_past));
  if (reason != FinishReason::kError && rewinds_) prefix_.insert(computed, s.cache.pages());
  for (int32_t p : s.cache.pages()) pages_.release(p);
  s.cache.pages().clear();
  FinishEvent ev{reason, error, s.n_prompt, s.cached, s.generated, s.spec.drafted, s.spec.accepted};
  s.done = true;
  {
    // The slot and its pages are free before the client hears of it: /metrics read
    // right after a response must not still count them (admission counted the slot).
    std::lock_guard lock(mu_);
    n_active_ = std::max<int64_t>(0, n_active_ - 1);
    publish_page_stats();
  }
  if (s.req.on_finish) s.req.on_finish(ev);
}

void Engine::drop_cancelled_and_expired() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& s : active_) {
    if (s->handle->cancelled()) finish(*s, FinishReason::kCancelled);
    else if (now >= s->req.deadline) finish(*s, FinishReason::kLength);
  }
}

int64_t Engine::pending_tokens(const Sequence& s) { return static_cast<int64_t>(s.history.size()) - s.cache.n_past; }

void Engine::add_to_batch(Sequence& s, int64_t n, StepBatch& b) {
  if (!ensure_pages(s, n)) {
    finish(s, FinishReason::kError, "out of cache memory (start the server with a smaller --parallel or --ctx)");
    return;
  }
  b.seqs.push_back({std::span<const int32_t>(s.history).subspan(static_cast<size_t>(s.cache.n_past), static_cast<size_t>(n)),
                    &s.cache, s.cache.n_past + n == static_cast<int64_t>(s.history.size())});
  b.members.push_back(&s);
}

Engine::StepBatch Engine::schedule() {
  StepBatch b;
  for (auto& s : active_) {
    if (s->done || pending_tokens(*s) != 1) continue;
    // The first token comes from the prompt's last chunk (plain): it also registers the prompt.
    if (s->spec.active() && s->prompt_registered) add_verify_to_batch(*s, b);
    else add_to_batch(*s, 1, b);
  }
  int64_t budget = opt_.prefill_chunk;
  for (auto& s : active_) {
    if (s->done) continue;
    const int64_t pending = pending_tokens(*s);
    if (pending == 1) continue;  // scheduled above
    const int64_t n = std::min(pending, budget);
    if (n <= 0) continue;
    budget -= n;
    add_to_batch(*s, n, b);
  }
  return b;
}

Status Engine::forward(const StepBatch& b, std::vector<float>& logits) {
  int64_t n_logits = 0, n_tokens = 0;
  bool want_hidden = false;
  for (size_t i = 0; i < b.seqs.size(); ++i) {
    const SeqBatch& s = b.seqs[i];
    const auto n = static_cast<int64_t>(s.tokens.size());
    n_logits += !s.want_logits ? 0 : s.all_rows ? n : 1;
    n_tokens += n;
    want_hidden = want_hidden || b.members[i]->spec.wants_hidden();
  }
  logits.assign(static_cast<size_t>(n_logits * model_->n_vocab()), 0.0f);
  ForwardOptions fo;
  fo.mode = AttentionMode::kAbsorbed;
  fo.arena = &arena_;
  if (want_hidden) {
    hidden_.resize(static_cast<size_t>(n_tokens * model_->mtp_hidden_width()));
    fo.hidden = hidden_.data();
  }
  Status st = model_->forward_batch(b.seqs, pool_, fo, logits.data());
  if (st.ok() && want_hidden) pass_hidden(b);
  return st;
}

void Engine::emit(Sequence& s, float* lg) {
  const int64_t V = model_->n_vocab();
  if (!s.prompt_registered) {  // the whole prompt is in the cache now: share it with requests that follow
    prefix_.insert(std::span<const int32_t>(s.history).first(static_cast<size_t>(s.n_prompt)), s.cache.pages());
    s.prompt_registered = true;
  }
  if (s.req.logit_filter) s.req.logit_filter(lg, V);
  deliver(s, s.sampler.sample(std::span<const float>(lg, static_cast<size_t>(V)), s.history), lg);
}

bool Engine::deliver(Sequence& s, int32_t token, const float* lg) {
  const int64_t V = model_->n_vocab();
  if (std::find(s.req.stop_tokens.begin(), s.req.stop_tokens.end(), token) != s.req.stop_tokens.end()) {
    finish(s, FinishReason::kStop);
    return false;
  }
  TokenEvent ev;
  ev.token = token;
  if (s.req.logprobs) logprobs(lg, V, token, s.req.top_logprobs, ev);  // skipped on the hot path unless asked
  s.history.push_back(token);
  ++s.generated;
  const bool more = !s.req.on_token || s.req.on_token(ev);
  if (!more) finish(s, FinishReason::kStop);
  else if (s.generated >= s.req.max_tokens || static_cast<int64_t>(s.history.size()) >= opt_.n_ctx)
    finish(s, FinishReason::kLength);
  return !s.done;
}

void Engine::sample_and_emit(const StepBatch& b, std::vector<float>& logits) {
  int64_t row = 0;
  for (size_t i = 0; i < b.seqs.size(); ++i) {
    const SeqBatch& sb = b.seqs[i];
    if (!sb.want_logits) continue;
    float* lg = logits.data() + row * model_->n_vocab();
    if (sb.all_rows) emit_verified(*b.members[i], lg);
    else emit(*b.members[i], lg);
    row += sb.all_rows ? static_cast<int64_t>(sb.tokens.size()) : 1;
  }
}

void Engine::step() {
  // Cancelled and expired requests go first: their pages are free for this step.
  drop_cancelled_and_expired();
  const StepBatch batch = schedule();
  if (batch.seqs.empty()) return;
  std::vector<float> logits;
  if (Status st = forward(batch, logits); !st.ok()) {
    for (Sequence* s : batch.members) finish(*s, FinishReason::kError, st.message());
    return;
  }
  sample_and_emit(batch, logits);
}

// ---- Speculative decoding (see engine_spec.h) ----

bool Engine::start_spec(Sequence& s) {
  if (opt_.spec.method == SpecConfig::Method::kNone || s.req.logit_filter) return true;
  auto spec = SequenceSpec::make(opt_.spec, *model_, pool_, opt_.n_ctx, s.cached);
  if (!spec.ok()) {
    finish(s, FinishReason::kError, spec.message());
    return false;
  }
  s.spec = std::move(spec).value();
  return true;
}

void Engine::add_verify_to_batch(Sequence& s, StepBatch& b) {
  // Drafts that could never be delivered are not run: the last token a request
  // may still produce is the step's own, and every row needs a cache position.
  const int64_t room = std::min(s.req.max_tokens - s.generated - 1, opt_.n_ctx - static_cast<int64_t>(s.history.size()));
  if (Status st = s.spec.draft(s.history, std::min(opt_.spec.draft, room)); !st.ok()) {
    finish(s, FinishReason::kError, st.message());
    return;
  }
  if (s.spec.n_drafts() == 0) {  // nothing to check: the plain step
    add_to_batch(s, 1, b);
    return;
  }
  const auto n = static_cast<int64_t>(s.spec.rows().size());
  if (!ensure_pages(s, n)) {
    finish(s, FinishReason::kError, "out of cache memory (start the server with a smaller --parallel or --ctx)");
    return;
  }
  b.seqs.push_back({s.spec.rows(), &s.cache, true, true});
  b.members.push_back(&s);
}

// Hands each drafter its sequence's slice of the step's hidden states (batch order).
void Engine::pass_hidden(const StepBatch& b) {
  const int64_t E = model_->mtp_hidden_width();
  int64_t offset = 0;
  for (size_t i = 0; i < b.seqs.size(); ++i) {
    const auto n = static_cast<int64_t>(b.seqs[i].tokens.size());
    Sequence& s = *b.members[i];
    s.spec.on_trunk(s.cache.n_past - n, hidden_.data() + offset * E, n);
    offset += n;
  }
}

void Engine::emit_verified(Sequence& s, const float* lg) {
  const int64_t V = model_->n_vocab(), n_rows = static_cast<int64_t>(s.spec.rows().size());
  const int64_t n0 = s.cache.n_past - n_rows;  // the pending token's position
  const int64_t stood = s.spec.verify(s.sampler, lg, V, s.history);
  s.cache.n_past = n0 + 1 + stood;  // drop the rejected drafts' rows
  s.spec.rollback(s.cache.n_past);
  spec_drafted_ += n_rows - 1;
  const std::span<const int32_t> tokens = s.spec.tokens();
  const auto& stops = s.req.stop_tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    // Counted before deliver(), which may finish the request and report the totals;
    // an accepted stop token is not delivered, so it does not count.
    if (static_cast<int64_t>(i) < stood && std::find(stops.begin(), stops.end(), tokens[i]) == stops.end()) {
      ++s.spec.accepted;
      ++spec_accepted_;
    }
    if (!deliver(s, tokens[i], lg + static_cast<int64_t>(i) * V)) return;
  }
}

}  // namespace dseek
