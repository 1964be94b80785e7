// Speculative decoding in the serving engine (EngineOptions::spec) on the
// trained default model: greedy tokens and log-probabilities equal the plain
// engine's with many requests batched together (prefix-cache hits, odd
// prefill chunks, a stop token, the context end), sampled output is the same
// alone or batched, constrained requests decode without drafts, and the
// per-request and engine-wide draft counts agree.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "runtime/engine.h"
#include "runtime/engine_test_util.h"
#include "support/model_helpers.h"

namespace dseek {
namespace {

using test::Outcome;
using test::request;
using test::run_all;

std::shared_ptr<const Model> default_model() {
  static const std::shared_ptr<const Model> m =
      test::load_model_or_fail((std::filesystem::path(DSEEK_SOURCE_DIR) / "assets/shakespeare/dseek-shakespeare.gguf").string());
  return m;
}

EngineOptions options(const std::string& spec, int64_t parallel, int64_t n_ctx = 256) {
  EngineOptions o;
  o.parallel = parallel;
  o.n_ctx = n_ctx;
  o.threads = 2;
  o.prefill_chunk = 23;  // prompts arrive in odd chunks, next to other requests' verify rows
  o.spec = parse_spec(spec).value();
  return o;
}

std::vector<Outcome> run_engine(const std::string& spec, int64_t parallel, const std::vector<EngineRequest>& reqs,
                                EngineStats* stats = nullptr, int64_t n_ctx = 256) {
  Engine e(default_model(), options(spec, parallel, n_ctx));
  auto out = run_all(e, reqs);
  if (stats) *stats = e.stats();
  return out;
}

// Prompts in the model's own words (its greedy continuation), so drafts have
// something to find: two share a 48-token prefix (prefix-cache hits), one
// repeats itself (n-gram matches), one stops at a token inside its output.
std::vector<EngineRequest> greedy_requests() {
  const std::vector<int32_t> seed = {1, 300, 301, 302, 303, 304};
  auto text = run_engine("", 1, {request(seed, 0, 0, 90)})[0].tokens;
  text.insert(text.begin(), seed.begin(), seed.end());
  auto slice = [&](size_t a, size_t b) { return std::vector<int32_t>(text.begin() + a, text.begin() + b); };
  std::vector<EngineRequest> reqs;
  reqs.push_back(request(slice(0, 50), 0, 0, 40));
  reqs.push_back(request(slice(0, 70), 0, 0, 33));
  reqs.push_back(request(slice(20, 35), 0, 0, 37));
  auto echo = slice(10, 40);
  echo.insert(echo.end(), text.begin() + 10, text.begin() + 25);
  reqs.push_back(request(echo, 0, 0, 40));
  reqs.push_back(request(slice(60, 64), 0, 0, 29));
  EngineRequest stopping = request(slice(0, 30), 0, 0, 60);
  stopping.stop_tokens = {text[45]};  // the model's own continuation reaches it
  reqs.push_back(stopping);
  return reqs;
}

TEST(EngineSpec, GreedyBatchedOutputEqualsThePlainEngines) {
  ASSERT_TRUE(default_model());
  const auto reqs = greedy_requests();
  const auto plain = run_engine("", 3, reqs);
  for (const char* spec : {"mtp", "mtp:3", "ngram", "ngram:2"}) {
    EngineStats st;
    const auto out = run_engine(spec, 3, reqs, &st);
    int64_t drafted = 0, accepted = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(out[i].tokens, plain[i].tokens) << spec << " request " << i;
      EXPECT_EQ(out[i].logprobs, plain[i].logprobs) << spec << " request " << i;
      EXPECT_EQ(out[i].finish.reason, plain[i].finish.reason) << spec << " request " << i;
      EXPECT_EQ(out[i].finish.completion_tokens, plain[i].finish.completion_tokens) << spec << " request " << i;
      EXPECT_LE(out[i].finish.accepted_tokens, out[i].finish.drafted_tokens);
      EXPECT_LE(out[i].finish.accepted_tokens, out[i].finish.completion_tokens);
      drafted += out[i].finish.drafted_tokens;
      accepted += out[i].finish.accepted_tokens;
      EXPECT_EQ(plain[i].finish.drafted_tokens, 0);
    }
    EXPECT_EQ(plain.back().finish.reason, FinishReason::kStop);
    EXPECT_TRUE(st.spec);
    EXPECT_EQ(st.spec_drafted, drafted) << spec;
    EXPECT_EQ(st.spec_accepted, accepted) << spec;
    EXPECT_GT(accepted, 0) << spec;
    std::printf("engine %s: %lld of %lld drafts accepted\n", spec, static_cast<long long>(accepted),
                static_cast<long long>(drafted));
  }
}

// A request's sampled tokens do not depend on what runs beside it (its
// drafts come from its own history and hidden states only).
TEST(EngineSpec, SampledOutputIsTheSameAloneAndBatched) {
  ASSERT_TRUE(default_model());
  std::vector<EngineRequest> reqs;
  for (int i = 0; i < 6; ++i)  // different first tokens: no prefix-cache hits between them
    reqs.push_back(request({1, 300 + i, 310 + i, 320 + 2 * i}, 0.8f, 40 + i, 30));
  for (const char* spec : {"mtp:2", "ngram"}) {
    std::vector<Outcome> solo;
    for (const auto& r : reqs) solo.push_back(run_engine(spec, 1, {r})[0]);
    const auto batched = run_engine(spec, 6, reqs);
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(batched[i].tokens, solo[i].tokens) << spec << " request " << i;
      EXPECT_EQ(batched[i].finish.drafted_tokens, solo[i].finish.drafted_tokens) << spec << " request " << i;
    }
  }
}

// A logit_filter's state follows the emitted tokens: such requests run
// without drafts, and still give the plain engine's output.
TEST(EngineSpec, FilteredRequestsDecodeWithoutDrafts) {
  ASSERT_TRUE(default_model());
  EngineRequest r = request({1, 300, 301, 302}, 0, 0, 24);
  r.logit_filter = [](float* logits, int64_t) { logits[5] -= 100.0f; };
  const auto plain = run_engine("", 1, {r})[0];
  const auto spec = run_engine("mtp:2", 1, {r})[0];
  EXPECT_EQ(spec.tokens, plain.tokens);
  EXPECT_EQ(spec.finish.drafted_tokens, 0);
}

// At the context end a speculating request stops where the plain one does.
TEST(EngineSpec, StopsAtTheContextEndLikeThePlainEngine) {
  ASSERT_TRUE(default_model());
  std::vector<int32_t> prompt = {1};
  for (int i = 0; i < 40; ++i) prompt.push_back(300 + i % 7);
  const auto plain = run_engine("", 1, {request(prompt, 0, 0, 100)}, nullptr, 48)[0];
  for (const char* spec : {"mtp:3", "ngram:4"}) {
    const auto out = run_engine(spec, 1, {request(prompt, 0, 0, 100)}, nullptr, 48)[0];
    EXPECT_EQ(out.tokens, plain.tokens) << spec;
    EXPECT_EQ(out.finish.reason, FinishReason::kLength) << spec;
  }
}

}  // namespace
}  // namespace dseek
