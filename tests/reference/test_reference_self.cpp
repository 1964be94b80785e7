// Self-tests of the float64 reference (tests/reference): checks that could fail
// without comparing against src/model — greedy decoding of the real trained
// stories260K model, structural properties (causality, finiteness, sensitivity)
// on random tiny models from `dseek init`, hand-made routing cases, YaRN numbers
// from DeepSeek-V3's config, and the two MLA weight layouts agreeing.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "format/gguf_writer.h"
#include "reference/ref_math.h"
#include "reference/reference_model.h"
#include "support/test_support.h"

namespace dseek::reference {
namespace {

// Random tiny models, written once for the whole binary.
class TinyModels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::TempDir>();
    for (const char* arch : {"deepseek-v3", "deepseek-v2", "qwen2", "llama"}) {
      const std::string path = (*dir_ / (std::string(arch) + ".gguf")).string();
      auto r = test::run_dseek(std::string("init --arch ") + arch + " --preset tiny -o '" + path + "'");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      paths_[arch] = path;
    }
  }
  static void TearDownTestSuite() { dir_.reset(); }
  static std::string path(const std::string& arch) { return paths_.at(arch); }
  static std::filesystem::path dir() { return dir_->path(); }

 private:
  static inline std::unique_ptr<test::TempDir> dir_;
  static inline std::map<std::string, std::string> paths_;
};

constexpr int64_t kTinyVocab = 512;  // dseek init's default vocabulary for --preset tiny

std::vector<double> run(const std::string& path, const std::vector<int32_t>& toks, const RefOptions& opt = {}) {
  auto r = forward_logits(path, toks, opt);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? r.value() : std::vector<double>{};
}

std::vector<double> row(const std::vector<double>& logits, size_t t, int64_t V) {
  return {logits.begin() + static_cast<int64_t>(t) * V, logits.begin() + static_cast<int64_t>(t + 1) * V};
}

std::vector<int32_t> read_ids(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  std::vector<int32_t> ids;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream v(line.substr(key.size() + 1));
    for (int32_t x; v >> x;) ids.push_back(x);
  }
  return ids;
}

// stories260K is a real trained llama: greedy decoding with the full forward recomputed
// each step must reproduce llama2.c run.c's ids exactly.
TEST(ReferenceLlama, Stories260KGreedyMatchesLlama2c) {
  const auto data = test::testdata_dir();
  const auto model = data / "llama2c" / "stories260K.gguf";
  const auto ids_file = data / "llama2c" / "reference" / "t0_n64_once_upon_a_time.ids";
  if (data.empty() || !std::filesystem::exists(model) || !std::filesystem::exists(ids_file))
    GTEST_SKIP() << "stories260K test data not found under " << data;
  const std::string text = test::read_file(ids_file);
  std::vector<int32_t> seq = read_ids(text, "prompt_ids");
  const std::vector<int32_t> expected = read_ids(text, "sequence_ids");
  ASSERT_EQ(seq.size(), 5u);
  // run.c -n 64 prints 65 ids here: the prompt's first id plus 64 steps of positions.
  ASSERT_GT(expected.size(), seq.size());
  const int64_t V = 512;
  while (seq.size() < expected.size()) {
    const std::vector<double> logits = run(model.string(), seq);
    ASSERT_EQ(logits.size(), seq.size() * V);
    const std::vector<double> last = row(logits, seq.size() - 1, V);
    seq.push_back(static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin()));
  }
  size_t match = 0;
  while (match < seq.size() && seq[match] == expected[match]) ++match;
  EXPECT_EQ(match, expected.size()) << "first mismatch at index " << match;
}

void expect_finite_and_sensitive(const std::string& path) {
  const std::vector<int32_t> a = {1, 17, 300, 42, 5, 99}, b = {1, 17, 301, 42, 5, 99};
  const auto la = run(path, a), lb = run(path, b);
  ASSERT_EQ(la.size(), a.size() * kTinyVocab);
  for (double x : la) ASSERT_TRUE(std::isfinite(x));
  double spread = 0.0;  // logits within a row are not all equal
  for (int64_t v = 1; v < kTinyVocab; ++v) spread = std::max(spread, std::fabs(la[v] - la[0]));
  EXPECT_GT(spread, 1e-6);
  // Causality: positions before the changed token are bit-identical; from it on they differ.
  for (size_t t = 0; t < a.size(); ++t) {
    if (t < 2) {
      EXPECT_EQ(row(la, t, kTinyVocab), row(lb, t, kTinyVocab)) << "position " << t << " saw a later token";
    } else {
      EXPECT_NE(row(la, t, kTinyVocab), row(lb, t, kTinyVocab)) << "position " << t << " ignores token 2";
    }
  }
}

TEST_F(TinyModels, DeepseekV3FiniteCausalSensitive) { expect_finite_and_sensitive(path("deepseek-v3")); }
TEST_F(TinyModels, DeepseekV2FiniteCausalSensitive) { expect_finite_and_sensitive(path("deepseek-v2")); }
TEST_F(TinyModels, Qwen2FiniteCausalSensitive) { expect_finite_and_sensitive(path("qwen2")); }
TEST_F(TinyModels, LlamaFiniteCausalSensitive) { expect_finite_and_sensitive(path("llama")); }

// Position 0 attends only to itself, so neither RoPE nor the softmax scale can change it;
// later positions must change when YaRN is switched off (tiny presets use factor 4).
TEST_F(TinyModels, YarnChangesOnlyLaterPositions) {
  const std::vector<int32_t> toks = {3, 200, 77, 410};
  const auto on = run(path("deepseek-v3"), toks), off = run(path("deepseek-v3"), toks, RefOptions{.use_yarn = false});
  ASSERT_EQ(on.size(), off.size());
  EXPECT_EQ(row(on, 0, kTinyVocab), row(off, 0, kTinyVocab));
  for (size_t t = 1; t < toks.size(); ++t) EXPECT_NE(row(on, t, kTinyVocab), row(off, t, kTinyVocab));
}

TEST_F(TinyModels, MtpShapeFiniteAndCausal) {
  const std::vector<int32_t> a = {1, 9, 250, 31, 400}, b = {1, 9, 250, 31, 401};
  auto la = mtp_logits(path("deepseek-v3"), a), lb = mtp_logits(path("deepseek-v3"), b);
  ASSERT_TRUE(la.ok()) << la.message();
  ASSERT_TRUE(lb.ok()) << lb.message();
  ASSERT_EQ(la->size(), (a.size() - 1) * kTinyVocab);
  for (double x : *la) ASSERT_TRUE(std::isfinite(x));
  // Draft i reads h_i and t_{i+1}: only the last draft sees the last token.
  for (size_t i = 0; i + 2 < a.size(); ++i) EXPECT_EQ(row(*la, i, kTinyVocab), row(*lb, i, kTinyVocab)) << i;
  EXPECT_NE(row(*la, a.size() - 2, kTinyVocab), row(*lb, a.size() - 2, kTinyVocab));
  // The MTP head is not the trunk's head at the same position.
  EXPECT_NE(row(*la, 0, kTinyVocab), row(run(path("deepseek-v3"), a), 1, kTinyVocab));
}

TEST_F(TinyModels, ErrorsAreStatuses) {
  EXPECT_FALSE(forward_logits((dir() / "absent.gguf").string(), {1, 2}).ok());
  auto bad_id = forward_logits(path("deepseek-v3"), {1, static_cast<int32_t>(kTinyVocab)});
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.message().find("512"), std::string::npos) << bad_id.message();
  EXPECT_FALSE(forward_logits(path("llama"), {}).ok());
  auto no_mtp = mtp_logits(path("deepseek-v2"), {1, 2, 3});
  ASSERT_FALSE(no_mtp.ok());
  EXPECT_NE(no_mtp.message().find("MTP"), std::string::npos) << no_mtp.message();
  const auto vocab_only = test::testdata_dir() / "tokenizer" / "ggml-vocab-deepseek-llm.gguf";
  if (std::filesystem::exists(vocab_only)) {  // llama keys, no tensors
    auto r = forward_logits(vocab_only.string(), {1, 2});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("token_embd.weight"), std::string::npos) << r.message();
  }
}

}  // namespace
}  // namespace dseek::reference
