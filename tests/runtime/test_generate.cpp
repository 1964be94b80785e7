// The generation loop on the real trained stories260K model: greedy from the
// reference prompts reproduces llama2.c's token sequences; sampling with a
// seed is reproducible; budgets and stop tokens end generation as documented.
#include <gtest/gtest.h>

#include <sstream>

#include "runtime/generate.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::ids_after;
using test::load_model_or_fail;

std::shared_ptr<const Model> stories(const std::filesystem::path& dir) {
  auto files = open_model_files((dir / "llama2c/stories260K.gguf").string());
  EXPECT_TRUE(files.ok());
  auto m = load_model(std::make_shared<const ModelFiles>(std::move(files).value()));
  EXPECT_TRUE(m.ok()) << m.message();
  return m.ok() ? m.value() : nullptr;
}

TEST(Generate, GreedyReproducesLlama2cReferences) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata not found";
  auto m = stories(dir);
  ASSERT_TRUE(m);
  ThreadPool pool(2);
  for (const char* name : {"t0_n64_once_upon_a_time", "t0_n64_lily_wanted", "t0_n64_the_little_dog"}) {
    const std::string text = test::read_file(dir / "llama2c/reference" / (std::string(name) + ".ids"));
    const auto prompt = ids_after(text, "prompt_ids:"), want = ids_after(text, "sequence_ids:");
    SamplingParams p;
    p.temperature = 0;
    Sampler s(p);
    GenerateOptions opt;
    opt.max_new_tokens = static_cast<int64_t>(want.size() - prompt.size());
    std::vector<int32_t> streamed;
    auto r = generate(*m, pool, prompt, s, opt, [&](int32_t t) { streamed.push_back(t); return true; });
    ASSERT_TRUE(r.ok()) << r.message();
    std::vector<int32_t> seq = prompt;
    seq.insert(seq.end(), r->tokens.begin(), r->tokens.end());
    EXPECT_EQ(seq, want) << name;
    EXPECT_EQ(streamed, r->tokens);
    EXPECT_EQ(r->stop, GenerateResult::Stop::kMaxTokens);
  }
}

TEST(Generate, SeededSamplingIsReproducibleAndStopsAsTold) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata not found";
  auto m = stories(dir);
  ASSERT_TRUE(m);
  ThreadPool pool(1);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  auto run = [&](uint64_t seed, GenerateOptions opt) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_p = 0.9f;
    p.seed = seed;
    Sampler s(p);
    auto r = generate(*m, pool, prompt, s, opt, nullptr);
    EXPECT_TRUE(r.ok());
    return r.value();
  };
  GenerateOptions opt;
  opt.max_new_tokens = 40;
  const auto a = run(7, opt), b = run(7, opt), c = run(8, opt);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, c.tokens);
  EXPECT_EQ(a.tokens.size(), 40u);
  opt.stop_tokens = {a.tokens[10]};
  const auto stopped = run(7, opt);
  EXPECT_EQ(stopped.stop, GenerateResult::Stop::kStopToken);
  EXPECT_LE(stopped.tokens.size(), 10u);
  opt.stop_tokens.clear();
  opt.n_ctx = 12;  // 5 prompt tokens + room for 7 more
  const auto full = run(7, opt);
  EXPECT_EQ(full.stop, GenerateResult::Stop::kContextFull);
  EXPECT_EQ(full.tokens.size(), 8u);  // the 8th token is emitted; there is no room to run it
}

}  // namespace
}  // namespace dseek
