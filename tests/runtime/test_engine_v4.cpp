// The serving engine on tiny DeepSeek-V4 (sliding, CSA and HCA layers): the
// compressed layers keep per-sequence state outside the page pool (a
// CacheExtension), so the engine turns prefix reuse and speculative decoding
// off for the model; requests served together, repeated (a prefix-cache hit
// otherwise) and with --spec asked for still equal a fresh generate() run.
#include <gtest/gtest.h>

#include <random>

#include "runtime/engine.h"
#include "runtime/engine_test_util.h"
#include "runtime/generate.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

namespace dseek {
namespace {

TEST(EngineV4, ServedOutputEqualsAFreshRunWithoutPrefixReuseOrDrafts) {
  test::TempDir dir;
  const std::string path = (dir / "v4.gguf").string();
  auto r = test::run_dseek("init --arch deepseek-v4 --preset tiny --seed 3 --dtype f32 -o '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::shared_ptr<const Model> m = test::load_model_or_fail(path);
  ASSERT_TRUE(m);
  ASSERT_NE(m->new_cache_extension(), nullptr);
  std::mt19937 rng(5);
  std::vector<EngineRequest> reqs;
  for (int i = 0; i < 3; ++i) reqs.push_back(test::request(test::random_prompt(rng, m->n_vocab(), 40 + 7 * i), 0.0f, 1, 12));
  std::vector<std::vector<int32_t>> fresh;
  ThreadPool pool(2);
  for (const EngineRequest& q : reqs) {
    Sampler s(q.sampling);
    GenerateOptions g;
    g.max_new_tokens = q.max_tokens, g.n_ctx = 128;
    auto out = generate(*m, pool, q.prompt, s, g, [](int32_t) { return true; });
    ASSERT_TRUE(out.ok()) << out.message();
    fresh.push_back(out->tokens);
  }
  EngineOptions o;
  o.parallel = 3, o.n_ctx = 128, o.threads = 2, o.prefill_chunk = 19;
  o.spec = {SpecConfig::Method::kNgram, 3};
  Engine e(m, o);
  EXPECT_EQ(e.options().spec.method, SpecConfig::Method::kNone);
  const auto together = test::run_all(e, reqs);
  const auto again = test::run_all(e, reqs);  // same prompts: would hit the prefix cache
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i].tokens, fresh[i]) << i;
    EXPECT_EQ(again[i].tokens, fresh[i]) << i;
    EXPECT_EQ(again[i].finish.cached_tokens, 0) << i;
  }
}

}  // namespace
}  // namespace dseek
