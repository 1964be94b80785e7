// SentencePiece-style vocab from GGUF: the real stories260K model's tokenizer
// reproduces llama2.c's prompt ids (BOS + dummy-prefix space) and decodes the
// reference generations to run.c's printed text.
#include <gtest/gtest.h>

#include <sstream>

#include "format/gguf.h"
#include "support/test_support.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace dseek {
namespace {

std::vector<int32_t> ids_after(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(key, 0) == 0) {
      std::istringstream ids(line.substr(key.size()));
      std::vector<int32_t> v;
      for (int32_t id; ids >> id;) v.push_back(id);
      return v;
    }
  return {};
}

// The SentencePiece tokenizer of llama2.c's stories260K model.
Result<Tokenizer> stories_tokenizer(const std::filesystem::path& testdata) {
  auto f = GgufFile::open((testdata / "llama2c/stories260K.gguf").string());
  if (!f.ok()) return f.status();
  return Tokenizer::from_gguf(*f);
}

TEST(SpmStories260K, PromptIdsAndDecodedGenerations) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata is missing";
  auto tok = stories_tokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ(tok->info().model, "llama");
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_TRUE(tok->add_bos());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"t0_n64_once_upon_a_time", "Once upon a time"},
      {"t0_n64_lily_wanted", "Lily wanted"},
      {"t0_n64_the_little_dog", "The little dog"},
      {"t0_n200_no_prompt", ""},
      {"t0_n256_no_prompt", ""},
      {"t1_p0.9_s133742_n256_no_prompt", ""},
  };
  size_t checks = 0;
  for (const auto& [name, prompt] : cases) {
    const std::string ids_file = test::read_file(dir / "llama2c/reference" / (name + ".ids"));
    const auto want_prompt = ids_after(ids_file, "prompt_ids:");
    const auto sequence = ids_after(ids_file, "sequence_ids:");
    ASSERT_FALSE(want_prompt.empty()) << name;
    EXPECT_EQ(tok->encode(prompt, {.add_bos = true}), want_prompt) << name;
    // run.c prints prompt + generation + "\n"; its decode drops the leading space after BOS.
    std::string want_text = test::read_file(dir / "llama2c/reference" / (name + ".out"));
    ASSERT_FALSE(want_text.empty());
    want_text.pop_back();
    const std::string got = tok->decode(sequence, {.skip_special = true});
    EXPECT_EQ(got, want_text) << name;
    StreamDecoder sd(*tok, {.skip_special = true});
    std::string streamed;
    for (int32_t id : sequence) streamed += sd.push(id);
    streamed += sd.flush();
    EXPECT_EQ(streamed, got) << name;
    checks += 3;
  }
  std::printf("[ stories260K ] %zu prompt encodings + %zu decoded generations (+ streamed) match\n", cases.size(),
              cases.size());
  EXPECT_EQ(tok->encode("Once upon a time"), (std::vector<int32_t>{403, 407, 261, 378}));
  EXPECT_EQ(tok->decode(tok->encode("Once upon a time")), "Once upon a time");
}

TEST(SpmStories260K, RoundTripWithByteFallback) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata is missing";
  auto tok = stories_tokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.message();
  for (const std::string text : {"Hello, wörld! 你好 🦙\n\ttab", "  two leading spaces", "x", "\xff\xfe bytes"}) {
    const auto ids = tok->encode(text);
    EXPECT_EQ(tok->decode(ids), text) << test::pieces_str(*tok, ids);
  }
  // A code point with no piece falls back to <0xXX> byte pieces ("é" is a piece, "ö" is not).
  EXPECT_EQ(tok->encode("é"), (std::vector<int32_t>{410, 485}));
  const auto ids = tok->encode("ö");
  ASSERT_EQ(ids.size(), 3u);  // dummy-prefix space + two bytes
  EXPECT_EQ(tok->token_text(ids[1]), "<0xC3>");
  EXPECT_EQ(tok->token_text(ids[2]), "<0xB6>");
}

}  // namespace
}  // namespace dseek
