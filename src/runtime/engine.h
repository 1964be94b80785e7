// The serving engine: one thread that runs the model for many requests at
// once (continuous batching). Every step gathers one new token from each
// decoding request plus prompt chunks from requests still prefilling, runs
// them through Model::forward_batch (weights read once for all of them), and
// samples each request's next token with its own sampler. Requests join and
// leave between steps.
//
// Memory: the attention cache is a PagePool sized at start; requests hold
// pages, a PrefixCache keeps finished requests' full pages for reuse. Waiting
// requests sit in a bounded queue; submit() refuses beyond it (the server's
// 429). Cancelling (client gone, deadline) frees a request's pages at the next
// step.
//
// Results do not depend on batching: the model's batched forward is
// batch-invariant, each request samples from its own seeded RNG, and prompt
// chunking and prefix reuse give bit-identical cache rows.
//
// Speculative decoding (EngineOptions::spec, engine_spec.h): a decoding
// sequence runs its pending token plus k drafted ones in the same batched
// step and keeps the drafts that its sampler accepts. Sequences with a
// logit_filter (constrained output, logit_bias) decode without drafts: the
// filter's state follows the emitted tokens, so later rows could not be
// filtered before the earlier ones are decided.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/step_arena.h"
#include "runtime/page_pool.h"
#include "runtime/prefix_cache.h"
#include "runtime/sampler/sampler.h"
#include "runtime/speculative.h"

namespace dseek {

struct EngineOptions {
  int64_t parallel = 4;        // sequences decoded together
  int64_t n_ctx = 4096;        // per-sequence context (prompt + output)
  int64_t page_tokens = 16;    // cache page size
  int64_t queue_limit = 64;    // waiting requests beyond the running ones
  int64_t prefill_chunk = 256; // prompt tokens per step across all prefilling sequences
  int64_t threads = 0;         // 0: hardware threads
  SpecConfig spec;             // speculative decoding (off by default); check_spec() it against the model first
};

struct TokenEvent {
  int32_t token = 0;
  float logprob = 0;                            // log p(token) under the model (raw logits), when asked for
  std::vector<std::pair<int32_t, float>> top;   // top alternatives when asked for
};

enum class FinishReason { kStop, kLength, kCancelled, kError };

struct FinishEvent {
  FinishReason reason = FinishReason::kStop;
  std::string error;
  int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  int64_t drafted_tokens = 0, accepted_tokens = 0;  // speculative drafts run / accepted and delivered
};

struct EngineRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 128;
  std::vector<int32_t> stop_tokens;  // ends generation; not reported as a token
  bool logprobs = false;             // fill TokenEvent::logprob (a log-softmax over the vocabulary per token)
  int32_t top_logprobs = 0;          // alternatives to report per token (0..20; needs logprobs)
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Optional: edits the logits before sampling (constrained output). Engine thread.
  std::function<void(float* logits, int64_t n_vocab)> logit_filter;
  // Engine thread; return false to stop (finish reason kStop).
  std::function<bool(const TokenEvent&)> on_token;
  // Engine thread; called exactly once, last.
  std::function<void(const FinishEvent&)> on_finish;
};

struct EngineStats {
  int64_t active = 0, waiting = 0, pages_used = 0, pages_total = 0, cached_pages = 0;
  int64_t steps = 0;
  bool spec = false;                          // speculative decoding on
  int64_t spec_drafted = 0, spec_accepted = 0;  // draft tokens verified / accepted, all requests
};

class Engine {
 public:
  class Handle {
   public:
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }

   private:
    std::atomic<bool> cancelled_{false};
  };

  Engine(std::shared_ptr<const Model> model, const EngineOptions& opt);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. Errors: the prompt does not fit the context (kInvalid),
  // or the queue is full (kBusy: try again later).
  enum class SubmitError { kNone, kInvalid, kBusy };
  struct Submitted {
    std::shared_ptr<Handle> handle;
    SubmitError error = SubmitError::kNone;
    std::string message;
  };
  Submitted submit(EngineRequest req);

  EngineStats stats() const;
  const EngineOptions& options() const { return opt_; }
  int64_t cache_bytes() const { return pages_.bytes(); }
  const Model& model() const { return *model_; }

 private:
  struct Sequence;
  void loop();
  bool admit(Sequence& s);
  bool ensure_pages(Sequence& s, int64_t n_new);
  void finish(Sequence& s, FinishReason reason, const std::string& error = {});

  // One step = schedule() -> forward() -> sample_and_emit().
  struct StepBatch {
    std::vector<SeqBatch> seqs;       // what forward_batch runs, in this order
    std::vector<Sequence*> members;   // the sequence behind each entry of seqs
  };
  void step();
  void drop_cancelled_and_expired();
  // Which sequences run this step and how many tokens each: every decoding
  // sequence (one pending token) first, then prompts in arrival order sharing
  // opt_.prefill_chunk tokens. A sequence that gets no cache pages fails here.
  StepBatch schedule();
  static int64_t pending_tokens(const Sequence& s);
  void add_to_batch(Sequence& s, int64_t n, StepBatch& b);
  // The one model call: logits for the entries that want them, in batch order.
  Status forward(const StepBatch& b, std::vector<float>& logits);
  // Samples each sequence that got logits, reports its token, finishes it on a stop / limit.
  void sample_and_emit(const StepBatch& b, std::vector<float>& logits);
  void emit(Sequence& s, float* logits);
  // Reports one token sampled from `logits`; false when that finished the sequence.
  bool deliver(Sequence& s, int32_t token, const float* logits);

  // Speculative decoding (engine_spec.h), kept apart from the plain path.
  bool start_spec(Sequence& s);  // false: the sequence failed (finished)
  void add_verify_to_batch(Sequence& s, StepBatch& b);
  void pass_hidden(const StepBatch& b);
  void emit_verified(Sequence& s, const float* logits);
  // Copies the page counts into the stats() mirrors; mu_ must be held.
  void publish_page_stats();

  std::shared_ptr<const Model> model_;
  EngineOptions opt_;
  ThreadPool pool_;
  StepArena arena_;  // activations, reused across steps: steady-state decode allocates nothing
  std::vector<float> hidden_;  // the step's final hidden states, for MTP drafters
  PagePool pages_;
  PrefixCache prefix_;
  bool rewinds_ = true;  // false: the model's caches carry a CacheExtension (no prefix reuse, no speculation)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> active_;  // engine thread only
  int64_t n_active_ = 0, steps_ = 0, stat_pages_used_ = 0, stat_cached_pages_ = 0;  // mirrors for stats()
  std::atomic<int64_t> spec_drafted_{0}, spec_accepted_{0};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dseek
