// Parity with llama.cpp's tokenizer test vectors (../shared/testdata/tokenizer):
// the deepseek-llm and deepseek-coder vocab GGUFs against their .inp/.out pairs
// (ids from HF tokenizers, no BOS, special tokens not parsed). Vectors without a
// vocabulary here (qwen2, llama-bpe, deepseek-r1-qwen) check that those rule
// tables compile and split as their regexes say.
#include <gtest/gtest.h>

#include <sstream>

#include "format/gguf.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace dseek {
namespace {

std::vector<std::string> split_inp(const std::string& data) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t next = data.find(sep, pos);
    if (next == std::string::npos) break;
    out.push_back(data.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return out;
}

std::vector<std::vector<int32_t>> parse_out(const std::string& data) {
  std::vector<std::vector<int32_t>> out;
  std::istringstream lines(data);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ids(line);
    std::vector<int32_t> v;
    for (int32_t id; ids >> id;) v.push_back(id);
    out.push_back(std::move(v));
  }
  return out;
}

void check_vocab(const std::string& name) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata is missing";
  const auto base = dir / "tokenizer" / ("ggml-vocab-" + name + ".gguf");
  auto f = GgufFile::open(base.string());
  ASSERT_TRUE(f.ok()) << f.message();
  auto tok = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.ok()) << tok.message();
  const auto texts = split_inp(test::read_file(base.string() + ".inp"));
  const auto expected = parse_out(test::read_file(base.string() + ".out"));
  ASSERT_EQ(texts.size(), expected.size());
  ASSERT_GT(texts.size(), 40u);
  size_t mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tok->encode(texts[i], {.parse_special = false, .add_bos = false});
    if (ids != expected[i]) {
      if (++mismatches <= 5)
        ADD_FAILURE() << name << " case " << i << " text '" << texts[i] << "'\n  want " << test::ids_str(expected[i])
                      << "\n  got  " << test::ids_str(ids) << "\n  pieces " << test::pieces_str(*tok, ids);
    }
    EXPECT_EQ(tok->decode(ids), texts[i]) << "round trip, case " << i;
  }
  std::printf("[ llama.cpp vectors ] %s: %zu cases, %zu mismatches\n", name.c_str(), texts.size(), mismatches);
  EXPECT_EQ(mismatches, 0u);
}

TEST(LlamaCppVectors, DeepseekLlm) { check_vocab("deepseek-llm"); }
TEST(LlamaCppVectors, DeepseekCoder) { check_vocab("deepseek-coder"); }

TEST(LlamaCppVectors, DeepseekLlmSpecialsAndBos) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata is missing";
  auto f = GgufFile::open((dir / "tokenizer/ggml-vocab-deepseek-llm.gguf").string());
  ASSERT_TRUE(f.ok()) << f.message();
  auto tok = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ(tok->bos_id(), 100000);
  EXPECT_EQ(tok->eos_id(), 100001);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->vocab_size(), 102400u);
  EXPECT_EQ(tok->info().n_merges, 99757u);
  EXPECT_EQ(tok->info().pre, "deepseek-llm");
  EXPECT_EQ(tok->encode("Hello world", {.add_bos = true}), (std::vector<int32_t>{100000, 17464, 1843}));
  const std::string bos(tok->token_text(100000));
  // Parsed as the BOS token by default, as plain text with parse_special = false.
  EXPECT_EQ(tok->encode(bos + "Hi"), (std::vector<int32_t>{100000, tok->encode("Hi")[0]}));
  const auto plain = tok->encode(bos, {.parse_special = false});
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(tok->decode(plain), bos);
}

// The vocab-less vectors: the rule tables must exist and split as specified.
TEST(PreTokenizerTables, SplitsOfNamedTables) {
  auto split = [](const std::string& name, const std::string& text) {
    auto spec = pretokenizer_spec(name);
    EXPECT_TRUE(spec.ok()) << spec.message();
    auto pre = PreTokenizer::compile(*spec);
    EXPECT_TRUE(pre.ok()) << pre.message();
    return pre.ok() ? test::split_pieces(*pre, text) : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(split("llama-bpe", "333333333"), (V{"333", "333", "333"}));
  EXPECT_EQ(split("qwen2", "3333"), (V{"3", "3", "3", "3"}));
  EXPECT_EQ(split("deepseek-r1-qwen", "I've 12"), (V{"I", "'ve", " ", "1", "2"}));
  EXPECT_EQ(split("llama-bpe", "I'VE been  there\n\n ok"), (V{"I", "'VE", " been", " ", " there", "\n\n", " ok"}));
  EXPECT_EQ(split("gpt2", "Hello, world!!  x"), (V{"Hello", ",", " world", "!!", " ", " x"}));
  EXPECT_EQ(split("deepseek-v3", "abc 12345 你好ab"), (V{"abc", " ", "123", "45", " ", "你好", "ab"}));
  EXPECT_EQ(split("deepseek-coder", "a1\n b"), (V{"a", "1", "\n", " b"}));
  for (const auto& name : pretokenizer_names()) {
    const auto texts = split_inp(
        test::testdata_dir().empty() ? std::string()
                                     : test::read_file(test::testdata_dir() / "tokenizer/ggml-vocab-qwen2.gguf.inp"));
    for (const auto& t : texts) {  // pieces always cover the text exactly
      std::string joined;
      for (const auto& p : split(name, t)) joined += p;
      EXPECT_EQ(joined, t) << name;
    }
  }
  EXPECT_FALSE(pretokenizer_spec("deepseek-v9").ok());
}

// Vectors whose vocabulary is not here: BPE never merges across pre-tokens, so
// every case needs at least as many ids as our split gives pieces. A rule table
// that split too coarsely (or dropped text) would show up here.
TEST(PreTokenizerTables, VocablessVectorsBoundPieceCounts) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata is missing";
  size_t cases = 0;
  for (const std::string name : {"qwen2", "deepseek-r1-qwen", "llama-bpe"}) {
    const auto base = dir / "tokenizer" / ("ggml-vocab-" + name + ".gguf");
    const auto texts = split_inp(test::read_file(base.string() + ".inp"));
    const auto ids = parse_out(test::read_file(base.string() + ".out"));
    ASSERT_EQ(texts.size(), ids.size()) << name;
    auto pre = PreTokenizer::compile(*pretokenizer_spec(name));
    ASSERT_TRUE(pre.ok()) << pre.message();
    PreTokenizer::Scratch s;
    std::vector<Span> spans;
    for (size_t i = 0; i < texts.size(); ++i, ++cases) {
      pre->split(texts[i], spans, s);
      EXPECT_LE(spans.size(), ids[i].size()) << name << " case " << i << " '" << texts[i] << "'";
    }
  }
  std::printf("[ llama.cpp vectors ] qwen2, deepseek-r1-qwen, llama-bpe: %zu cases, piece counts <= id counts\n", cases);
}

}  // namespace
}  // namespace dseek
