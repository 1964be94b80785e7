// The serving engine on tiny random DeepSeek-V3 (MLA + MoE), Llama and Qwen2 models: a
// request's tokens are the same alone or among 15 concurrent others (greedy
// and seeded sampling), prefix reuse is exact and reported, cancellation frees
// the request's pages, the bounded queue refuses when full, bad requests are
// refused with a reason.
#include <gtest/gtest.h>

#include <random>

#include "runtime/engine.h"
#include "runtime/engine_test_util.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::Collector;
using test::Outcome;
using test::random_prompt;
using test::request;
using test::run_all;

std::shared_ptr<const Model> tiny_model(const std::string& dtype, const std::string& arch = "deepseek-v3") {
  static test::TempDir dir;  // one file per (arch, dtype) for the whole binary
  const std::string path = (dir.path() / ("tiny-" + arch + "-" + dtype + ".gguf")).string();
  if (!std::filesystem::exists(path)) {
    auto r = test::run_dseek("init --arch " + arch + " --preset tiny --seed 7 --dtype " + dtype + " -o '" + path + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return test::load_model_or_fail(path);
}

TEST(Engine, SixteenConcurrentRequestsMatchTheirSoloRuns) {
  for (const auto& [arch, dtype] : std::vector<std::pair<std::string, std::string>>{
           {"deepseek-v3", "f32"}, {"deepseek-v3", "q8_0"}, {"llama", "f32"}, {"qwen2", "q8_0"}}) {
    auto m = tiny_model(dtype, arch);
    ASSERT_TRUE(m);
    std::mt19937 rng(11);
    std::vector<EngineRequest> reqs;
    for (int i = 0; i < 16; ++i)  // half greedy, half seeded sampling; prompts of different lengths
      reqs.push_back(request(random_prompt(rng, m->n_vocab(), 3 + 5 * i), i % 2 ? 0.9f : 0.0f, 100 + i, 10 + i % 5));
    std::vector<Outcome> solo;
    {
      EngineOptions o;
      o.parallel = 1;
      o.n_ctx = 256;
      o.threads = 2;
      Engine e(m, o);
      for (const auto& r : reqs) solo.push_back(run_all(e, {r})[0]);
    }
    EngineOptions o;
    o.parallel = 16;
    o.n_ctx = 256;
    o.threads = 2;
    o.prefill_chunk = 37;  // prompts arrive in odd chunks, interleaved with other requests' decoding
    Engine e(m, o);
    const auto batched = run_all(e, reqs);
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(batched[i].tokens, solo[i].tokens) << arch << "/" << dtype << " request " << i;
      EXPECT_EQ(batched[i].logprobs, solo[i].logprobs) << arch << "/" << dtype << " request " << i;
      EXPECT_EQ(batched[i].finish.reason, FinishReason::kLength);
      EXPECT_EQ(batched[i].finish.completion_tokens, reqs[i].max_tokens);
      EXPECT_EQ(batched[i].finish.prompt_tokens, static_cast<int64_t>(reqs[i].prompt.size()));
      for (float lp : batched[i].logprobs) EXPECT_LE(lp, 0.0f);
    }
    EXPECT_GT(e.stats().steps, 0);
  }
}

TEST(Engine, PrefixReuseIsExactAndReported) {
  auto m = tiny_model("f32");
  ASSERT_TRUE(m);
  std::mt19937 rng(5);
  const auto prompt = random_prompt(rng, m->n_vocab(), 70);
  EngineOptions o;
  o.parallel = 2;
  o.n_ctx = 256;
  o.page_tokens = 16;
  o.threads = 2;
  Engine e(m, o);
  const auto first = run_all(e, {request(prompt, 0, 0, 8)})[0];
  EXPECT_EQ(first.finish.cached_tokens, 0);
  const auto second = run_all(e, {request(prompt, 0, 0, 8)})[0];
  EXPECT_EQ(second.tokens, first.tokens);
  EXPECT_EQ(second.finish.cached_tokens, 64);  // 4 full pages; the last prompt token is always recomputed
  // The next turn: the first request's prompt + answer + more, reuses the answer's pages too.
  auto longer = prompt;
  longer.insert(longer.end(), first.tokens.begin(), first.tokens.end());
  const auto extra = random_prompt(rng, m->n_vocab(), 20);
  longer.insert(longer.end(), extra.begin(), extra.end());
  const auto third = run_all(e, {request(longer, 0, 0, 6)})[0];
  EXPECT_EQ(third.finish.cached_tokens, 64);  // pages 0..3 are full; page 4 held 70..77 only partially
  // Cross-check the reuse against a cold engine.
  Engine cold(m, o);
  EXPECT_EQ(run_all(cold, {request(longer, 0, 0, 6)})[0].tokens, third.tokens);
}

// Requests submitted back to back: those the engine took (their collectors and
// handles) and how many it refused as busy. Declared before the Engine so the
// collectors outlive it (the engine may call them as it stops).
struct Burst {
  int busy = 0;
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::shared_ptr<Engine::Handle>> handles;

  void submit(Engine& e, std::mt19937& rng, int32_t n_vocab, int count, int32_t max_tokens) {
    for (int i = 0; i < count; ++i) {
      collectors.push_back(std::make_unique<Collector>());
      auto s = e.submit(collectors.back()->wrap(request(random_prompt(rng, n_vocab, 10), 0, 0, max_tokens)));
      if (s.error == Engine::SubmitError::kBusy) {
        ++busy;
        collectors.pop_back();
      } else {
        EXPECT_EQ(s.error, Engine::SubmitError::kNone);
        handles.push_back(s.handle);
      }
    }
  }
  void cancel_and_expect_cancelled() {
    for (auto& h : handles) h->cancel();
    for (auto& c : collectors) EXPECT_EQ(c->wait().finish.reason, FinishReason::kCancelled);
  }
};

// An engine that runs one request and queues one more (the admission tests).
EngineOptions one_slot_and_one_queued(int threads) {
  EngineOptions o;
  o.parallel = 1;
  o.queue_limit = 1;
  o.n_ctx = 512;
  o.threads = threads;
  return o;
}

// A burst that arrives before the engine has admitted anything: the free slot
// and the queue each take one request, whatever the engine thread's timing
// (counting the one a free slot is about to take as "waiting" refused it).
TEST(Engine, BurstFillsTheFreeSlotAndTheQueue) {
  auto m = tiny_model("f32");
  ASSERT_TRUE(m);
  std::mt19937 rng(5);
  const EngineOptions o = one_slot_and_one_queued(1);
  Burst burst;
  Engine e(m, o);
  burst.submit(e, rng, m->n_vocab(), 8, 300);
  EXPECT_EQ(burst.busy, 6);
  EXPECT_EQ(burst.handles.size(), 2u);
  burst.cancel_and_expect_cancelled();
}

TEST(Engine, CancelFreesPagesAndQueueRefusesWhenFull) {
  auto m = tiny_model("f32");
  ASSERT_TRUE(m);
  std::mt19937 rng(3);
  const EngineOptions o = one_slot_and_one_queued(2);
  Collector c;
  Burst burst;
  Engine e(m, o);
  auto sub = e.submit(c.wrap(request(random_prompt(rng, m->n_vocab(), 40), 0, 0, 400)));
  ASSERT_EQ(sub.error, Engine::SubmitError::kNone);
  while (c.n_tokens() < 2) std::this_thread::yield();
  // Running: 1, waiting: up to 1; a burst beyond that is refused.
  burst.submit(e, rng, m->n_vocab(), 4, 400);
  EXPECT_EQ(burst.busy, 3);
  sub.handle->cancel();
  const Outcome o1 = c.wait();
  EXPECT_EQ(o1.finish.reason, FinishReason::kCancelled);
  EXPECT_LT(o1.tokens.size(), 400u);
  burst.cancel_and_expect_cancelled();
  for (int i = 0; i < 200 && e.stats().active > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const EngineStats st = e.stats();
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(st.waiting, 0);
  EXPECT_EQ(st.pages_used, st.cached_pages);  // only the prefix cache holds pages now
}

TEST(Engine, RefusesBadRequestsWithAReason) {
  auto m = tiny_model("f32");
  ASSERT_TRUE(m);
  EngineOptions o;
  o.parallel = 1;
  o.n_ctx = 32;
  o.threads = 1;
  Engine e(m, o);
  auto empty = e.submit(request({}, 0, 0, 4));
  EXPECT_EQ(empty.error, Engine::SubmitError::kInvalid);
  auto too_long = e.submit(request(std::vector<int32_t>(40, 1), 0, 0, 4));
  EXPECT_EQ(too_long.error, Engine::SubmitError::kInvalid);
  EXPECT_NE(too_long.message.find("--ctx"), std::string::npos) << too_long.message;
  auto bad_id = e.submit(request({1, -5}, 0, 0, 4));
  EXPECT_EQ(bad_id.error, Engine::SubmitError::kInvalid);
  auto zero = e.submit(request({1, 2}, 0, 0, 0));
  EXPECT_EQ(zero.error, Engine::SubmitError::kInvalid);
  // A request that reaches the context end stops with "length", not an error.
  const auto full = run_all(e, {request(std::vector<int32_t>(30, 3), 0, 0, 100)})[0];
  EXPECT_EQ(full.finish.reason, FinishReason::kLength);
  EXPECT_EQ(full.tokens.size(), 2u);
}

}  // namespace
}  // namespace dseek
