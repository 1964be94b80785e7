// Speculative decoding: greedy output identical to the plain loop on every
// architecture and dtype (n-gram drafts everywhere, MTP drafts where the
// model has an MTP layer), the incremental MTP module equal to forward_mtp,
// and the n-gram lookup and --spec parsing on their own.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "runtime/generate.h"
#include "runtime/ngram_draft.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::load_model_or_fail;

TEST(Speculative, ParsesSpec) {
  EXPECT_EQ(parse_spec("")->method, SpecConfig::Method::kNone);
  EXPECT_EQ(parse_spec("ngram")->draft, 4);
  EXPECT_EQ(parse_spec("mtp")->draft, 1);
  auto c = parse_spec("mtp:3");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->method, SpecConfig::Method::kMtp);
  EXPECT_EQ(c->draft, 3);
  EXPECT_FALSE(parse_spec("ngram:0").ok());
  EXPECT_FALSE(parse_spec("ngram:x").ok());
  EXPECT_FALSE(parse_spec("eagle").ok());
}

TEST(Speculative, NgramLookupTakesTheLongestMostRecentMatch) {
  const std::vector<int32_t> h = {5, 1, 2, 3, 9, 1, 2, 7, 8, 1, 2};
  // Suffix [1 2] occurs at 5 (most recent) and 1; the longer [7 8 1 2]... never before: [1 2] at 5 wins.
  EXPECT_EQ(ngram_lookup(h, 3, 4), (std::vector<int32_t>{7, 8, 1}));
  EXPECT_EQ(ngram_lookup(std::vector<int32_t>{4, 6, 1, 2, 3, 1, 2}, 5, 4), (std::vector<int32_t>{3, 1, 2}));
  EXPECT_TRUE(ngram_lookup(std::vector<int32_t>{1, 2, 3}, 4, 4).empty());
  EXPECT_EQ(ngram_lookup(std::vector<int32_t>{7, 7}, 4, 4), (std::vector<int32_t>{7}));
}

struct SpecCase {
  const char* arch;
  const char* dtype;
  const char* preset = "tiny";
};

std::vector<int32_t> echoing_prompt(int64_t n_vocab) {  // repeats itself, so n-gram drafts find matches
  std::vector<int32_t> p;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 6; ++i) p.push_back((i * 37 + 11) % static_cast<int32_t>(n_vocab));
  return p;
}

GenerateResult run_greedy(const Model& m, std::span<const int32_t> prompt, const std::string& spec, int64_t n,
                          int64_t n_ctx = 0) {
  ThreadPool pool(2);
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  GenerateOptions opt;
  opt.max_new_tokens = n;
  opt.n_ctx = n_ctx;
  opt.spec = parse_spec(spec).value();
  auto r = generate(m, pool, prompt, s, opt, nullptr);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? std::move(r).value() : GenerateResult{};
}

class SpecGreedy : public ::testing::TestWithParam<SpecCase> {};

// Greedy decoding with drafts is the plain loop's output token for token:
// the k + 1 verified rows equal one-at-a-time logits bit for bit and the
// cache rolls back exactly (drafts on random models are mostly rejected).
TEST_P(SpecGreedy, SameTokensAsPlainDecoding) {
  test::TempDir dir;
  const auto [arch, dtype, preset] = GetParam();
  auto m = test::init_and_load(dir, arch, preset, dtype);
  ASSERT_TRUE(m);
  const auto prompt = echoing_prompt(m->n_vocab());
  const auto plain = run_greedy(*m, prompt, "", 40);
  std::vector<std::string> specs = {"ngram:1", "ngram:3"};
  if (m->has_mtp()) specs.insert(specs.end(), {"mtp", "mtp:3"});
  for (const auto& spec : specs) {
    const auto s = run_greedy(*m, prompt, spec, 40);
    EXPECT_EQ(s.tokens, plain.tokens) << spec;
    EXPECT_EQ(s.stop, plain.stop) << spec;
    ASSERT_FALSE(s.spec.proposed.empty()) << spec << ": no drafts were tried";
    std::printf("%s/%s %s: %lld steps for %zu tokens, position-1 acceptance %.2f\n", arch, dtype, spec.c_str(),
                static_cast<long long>(s.spec.steps), s.tokens.size(), s.spec.acceptance(0));
  }
  // A context that fills up mid-draft stops where the plain loop stops.
  const auto plain_full = run_greedy(*m, prompt, "", 40, 30);
  const auto spec_full = run_greedy(*m, prompt, "ngram:3", 40, 30);
  EXPECT_EQ(spec_full.tokens, plain_full.tokens);
  EXPECT_EQ(spec_full.stop, GenerateResult::Stop::kContextFull);
}

INSTANTIATE_TEST_SUITE_P(Tiny, SpecGreedy,
                         ::testing::Values(SpecCase{"deepseek-v3", "f32"}, SpecCase{"deepseek-v3", "bf16"},
                                           SpecCase{"deepseek-v3", "q8_0"}, SpecCase{"deepseek-v3", "q4_k", "small"},
                                           SpecCase{"deepseek-v2", "f32"}, SpecCase{"deepseek-v2", "q8_0"},
                                           SpecCase{"deepseek-v32", "f32"}, SpecCase{"deepseek-v32", "q8_0"},
                                           SpecCase{"llama", "f32"}, SpecCase{"llama", "q4_k", "small"},
                                           SpecCase{"qwen2", "bf16"}, SpecCase{"qwen2", "q8_0"}),
                         [](const auto& info) {
                           std::string n = std::string(info.param.arch) + "_" + info.param.dtype + "_" + info.param.preset;
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

const std::filesystem::path kDefaultModel = std::filesystem::path(DSEEK_SOURCE_DIR) / "assets/shakespeare/dseek-shakespeare.gguf";

// On the trained default model MTP drafts are mostly right: the greedy output
// is unchanged and most steps accept their draft.
TEST(Speculative, DefaultModelMtpIsLosslessAndAccepted) {
  auto m = load_model_or_fail(kDefaultModel.string());
  ASSERT_TRUE(m);
  const std::vector<int32_t> prompt = {1, 300, 301, 302, 303, 304};
  const auto plain = run_greedy(*m, prompt, "", 64);
  for (const char* spec : {"mtp", "mtp:2", "ngram"}) {
    const auto s = run_greedy(*m, prompt, spec, 64);
    EXPECT_EQ(s.tokens, plain.tokens) << spec;
    std::printf("default model %s: %lld steps for %zu tokens, acceptance", spec, static_cast<long long>(s.spec.steps),
                s.tokens.size());
    for (size_t i = 0; i < s.spec.proposed.size(); ++i) std::printf(" %.2f", s.spec.acceptance(i));
    std::printf("\n");
  }
}

// Stop tokens and a callback that ends generation cut a speculative run
// where they cut the plain one, also inside a run of accepted drafts.
TEST(Speculative, StopsWhereThePlainLoopStops) {
  auto m = load_model_or_fail(kDefaultModel.string());
  ASSERT_TRUE(m);
  const std::vector<int32_t> prompt = {1, 300, 301, 302, 303, 304};
  const auto plain = run_greedy(*m, prompt, "", 40);
  ASSERT_EQ(plain.tokens.size(), 40u);
  ThreadPool pool(2);
  for (const char* spec : {"", "mtp:3", "ngram:4"}) {
    SamplingParams p;
    p.temperature = 0;
    Sampler s(p);
    GenerateOptions opt;
    opt.max_new_tokens = 40;
    opt.stop_tokens = {plain.tokens[25]};
    opt.spec = parse_spec(spec).value();
    auto r = generate(*m, pool, prompt, s, opt, nullptr);
    ASSERT_TRUE(r.ok());
    const auto first = std::find(plain.tokens.begin(), plain.tokens.end(), plain.tokens[25]);
    EXPECT_EQ(r->tokens, std::vector<int32_t>(plain.tokens.begin(), first)) << spec;
    EXPECT_EQ(r->stop, GenerateResult::Stop::kStopToken) << spec;
    opt.stop_tokens.clear();
    Sampler s2(p);
    int calls = 0;
    r = generate(*m, pool, prompt, s2, opt, [&](int32_t) { return ++calls < 13; });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->tokens, std::vector<int32_t>(plain.tokens.begin(), plain.tokens.begin() + 13)) << spec;
    EXPECT_EQ(r->stop, GenerateResult::Stop::kCallback) << spec;
  }
}

// The incremental MTP module (own cache, row by row or in chunks) gives the
// logits of forward_mtp bit for bit.
TEST(Speculative, MtpStepMatchesForwardMtp) {
  test::TempDir dir;
  for (const auto& [arch, dtype] : {std::pair{"deepseek-v3", "f32"}, {"deepseek-v3", "q8_0"}, {"deepseek-v32", "f32"}}) {
    const std::string path = (dir / (std::string(arch) + dtype + ".gguf")).string();
    ASSERT_EQ(test::run_dseek(std::string("init --arch ") + arch + " --dtype " + dtype + " -o '" + path + "'").exit_code, 0);
    auto m = load_model_or_fail(path);
    ASSERT_TRUE(m && m->has_mtp());
    ThreadPool pool(2);
    const auto toks = echoing_prompt(m->n_vocab());
    const int64_t T = static_cast<int64_t>(toks.size()), V = m->n_vocab(), E = m->n_embd();
    std::vector<float> want(static_cast<size_t>((T - 1) * V));
    ASSERT_TRUE(m->forward_mtp(toks, pool, want.data()).ok());
    KvCache cache = m->new_cache(T);
    std::vector<float> hidden(static_cast<size_t>(T * E)), logits(static_cast<size_t>(T * V));
    ForwardOptions fo;
    fo.hidden = hidden.data();
    ASSERT_TRUE(m->forward(toks, cache, pool, fo, logits.data()).ok());
    for (int64_t chunk : {1, 3}) {
      KvCache mtp = m->new_mtp_cache(T);
      std::vector<float> got(static_cast<size_t>(V));
      for (int64_t i = 0; i + 1 < T; i += chunk) {
        const int64_t n = std::min(chunk, T - 1 - i);
        const auto next = std::span<const int32_t>(toks).subspan(static_cast<size_t>(i + 1), static_cast<size_t>(n));
        ASSERT_TRUE(m->forward_mtp_step(hidden.data() + i * E, next, mtp, pool, got.data(), nullptr).ok());
        const float* row = want.data() + (i + n - 1) * V;
        ASSERT_EQ(std::vector<float>(row, row + V), got) << arch << "/" << dtype << " chunk " << chunk << " row " << i + n - 1;
      }
    }
  }
}

TEST(Speculative, MtpOnAModelWithoutMtpNamesNgram) {
  test::TempDir dir;
  const std::string path = (dir / "m.gguf").string();
  ASSERT_EQ(test::run_dseek("init --arch llama -o '" + path + "'").exit_code, 0);
  auto m = load_model_or_fail(path);
  ASSERT_TRUE(m);
  ThreadPool pool(1);
  Sampler s(SamplingParams{});
  GenerateOptions opt;
  opt.spec = parse_spec("mtp").value();
  auto r = generate(*m, pool, std::vector<int32_t>{1, 2}, s, opt, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("--spec ngram"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace dseek
