// Tokenizer behaviour that needs no oracle: round trips (incl. invalid UTF-8),
// the streaming decoder, the BPE trainer, in-memory and GGUF-built vocabularies,
// and clear errors for bad input (broken tokenizer.json, unknown merges, unknown
// pre-tokenizer, GGUF without tokenizer keys).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <random>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "support/test_support.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace dseek {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTrainText =
    "Once upon a time there was a little dog. The dog liked to run in the park, and the park was big. "
    "def main():\n    return 42\n\n你好，世界。こんにちは。สวัสดีครับ 12345 ";

Tokenizer small_bpe() {
  auto trained = train_byte_bpe(kTrainText, 400, "deepseek-v3");
  EXPECT_TRUE(trained.ok()) << trained.message();
  TokenizerSpec spec;
  spec.tokens = trained->tokens;
  for (const auto& m : trained->merges) spec.merges.emplace_back(m.substr(0, m.find(' ', 1)), m.substr(m.find(' ', 1) + 1));
  spec.tokens.push_back("<｜begin▁of▁sentence｜>");
  spec.tokens.push_back("<think>");
  spec.types.assign(spec.tokens.size(), 1);
  spec.types[spec.tokens.size() - 2] = 3;
  spec.types[spec.tokens.size() - 1] = 4;
  spec.bos_id = static_cast<int32_t>(spec.tokens.size() - 2);
  spec.pre = *pretokenizer_spec("deepseek-v3");
  auto tok = Tokenizer::from_spec(std::move(spec));
  EXPECT_TRUE(tok.ok()) << tok.message();
  return std::move(tok).value();
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>(rng() & 0xFF);
  return s;
}

TEST(BpeTrainer, DeterministicAndUseful) {
  auto a = train_byte_bpe(kTrainText, 300, "deepseek-v3");
  auto b = train_byte_bpe(kTrainText, 300, "deepseek-v3");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tokens, b->tokens);
  EXPECT_EQ(a->merges, b->merges);
  EXPECT_LE(a->tokens.size(), 300u);  // stops when no pair repeats
  EXPECT_GT(a->tokens.size(), 270u);
  EXPECT_EQ(a->tokens[0x41], "A");
  EXPECT_EQ(a->tokens[' '], "Ġ");
  auto tok = small_bpe();
  EXPECT_LT(tok.encode("the park").size(), 8u);  // merges learned
  EXPECT_FALSE(train_byte_bpe("x", 300, "no-such-pre").ok());
}

TEST(RoundTrip, ArbitraryBytesIncludingInvalidUtf8) {
  auto tok = small_bpe();
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const std::string s = random_bytes(rng, rng() % 64);
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
    EXPECT_EQ(tok.decode(tok.encode(s, {.parse_special = false})), s);
  }
  for (const std::string s : {"\xff", "\xc3", "a\xe4\xb8", "\xed\xa0\x80 surrogate", "\xc0\xaf overlong"})
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
}

TEST(RoundTrip, LongRuns) {
  // Long single-class runs stress regex backtracking (\s+(?!\S)) and BPE on long pieces.
  auto tok = small_bpe();
  for (const std::string& s : {std::string(300000, ' '), std::string(200000, 'a'), std::string(100000, '7'),
                               std::string(50000, '\n') + "x", [] {
                                 std::string t;
                                 for (int i = 0; i < 30000; ++i) t += "你好 \t";
                                 return t;
                               }()}) {
    const auto ids = tok.encode(s);
    EXPECT_EQ(tok.decode(ids), s);
  }
}

TEST(RoundTrip, SpecialTokenText) {
  auto tok = small_bpe();
  const std::string text = "hi<｜begin▁of▁sentence｜><think>x";
  const auto parsed = tok.encode(text);
  EXPECT_NE(std::find(parsed.begin(), parsed.end(), tok.bos_id()), parsed.end());
  EXPECT_EQ(tok.decode(parsed), text);
  const auto plain = tok.encode(text, {.parse_special = false});
  EXPECT_EQ(std::find(plain.begin(), plain.end(), tok.bos_id()), plain.end());
  EXPECT_EQ(std::find(plain.begin(), plain.end(), *tok.token_id("<think>")), plain.end());  // looks special
  EXPECT_EQ(tok.decode(plain), text);
  EXPECT_EQ(tok.decode(parsed, {.skip_special = true}), "hix");
  EXPECT_EQ(tok.encode("a", {.add_bos = true}).front(), tok.bos_id());
}

TEST(RoundTrip, V3MultilingualAndRandom) {
  const fs::path json = test::v3_tokenizer_json();
  if (json.empty()) GTEST_SKIP() << "the JS oracle package (with the V3 tokenizer.json) is not installed";
  auto tok = Tokenizer::from_hf(json.string());
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(*tok->token_id("<｜User｜>"), 128803);
  std::mt19937 rng(11);
  for (int i = 0; i < 500; ++i) {
    const std::string s = random_bytes(rng, rng() % 48);
    ASSERT_EQ(tok->decode(tok->encode(s)), s);
  }
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata is missing";
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir / "multilingual")) {
    const std::string text = test::read_file(e.path());
    const auto ids = tok->encode(text);
    EXPECT_EQ(tok->decode(ids), text) << e.path();
    // Streaming: never a broken UTF-8 chunk, and the chunks add up to decode().
    StreamDecoder sd(*tok);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string chunk = sd.push(id);
      EXPECT_TRUE(is_valid_utf8(chunk)) << e.path() << " chunk " << test::ids_str(std::vector<int32_t>{id});
      streamed += chunk;
    }
    streamed += sd.flush();
    EXPECT_EQ(streamed, text) << e.path();
    ++files;
  }
  EXPECT_GE(files, 12u);
}

TEST(StreamDecoder, HoldsSplitCharactersOnly) {
  auto tok = small_bpe();
  // "🦙" is 4 bytes; the small vocab has no merge for it, so it arrives byte by byte.
  const auto ids = tok.encode("a🦙ก");
  StreamDecoder sd(tok);
  std::vector<std::string> chunks;
  for (int32_t id : ids) chunks.push_back(sd.push(id));
  std::string all;
  for (const auto& c : chunks) {
    EXPECT_TRUE(is_valid_utf8(c));
    all += c;
  }
  EXPECT_EQ(all + sd.flush(), "a🦙ก");
  // Invalid bytes are passed through, not held forever.
  StreamDecoder bad(tok);
  const auto junk = tok.encode("\xff\xfe");
  std::string out;
  for (int32_t id : junk) out += bad.push(id);
  EXPECT_EQ(out, "\xff\xfe");
  // An incomplete sequence stays pending until flush.
  StreamDecoder part(tok);
  std::string got;
  for (int32_t id : tok.encode("\xe4\xb8")) got += part.push(id);
  EXPECT_EQ(got, "");
  EXPECT_EQ(part.flush(), "\xe4\xb8");
}

// --- bad input -------------------------------------------------------------

std::string write(const test::TempDir& dir, const std::string& name, const std::string& body) {
  test::write_file(dir / name, body);
  return (dir / name).string();
}

TEST(BadInput, BrokenTokenizerJson) {
  test::TempDir dir;
  auto r = Tokenizer::from_hf(write(dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("tokenizer.json"), std::string::npos) << r.message();
  const std::string pre = R"("pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  r = Tokenizer::from_hf(write(dir, "t2.json", R"({"model": {"type": "Unigram", "vocab": []}, )" + pre + "}"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("Unigram"), std::string::npos) << r.message();
  r = Tokenizer::from_hf(write(dir, "t3.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Whitespace"}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("Whitespace"), std::string::npos) << r.message();
  r = Tokenizer::from_hf(write(dir, "t4.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "NFKC"}, )" + pre + "}"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("NFKC"), std::string::npos) << r.message();
  r = Tokenizer::from_hf(write(dir, "t5.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "[a-"}, "behavior": "Isolated"}, {"type": "ByteLevel", "use_regex": false}]}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("regex"), std::string::npos) << r.message();
  r = Tokenizer::from_hf(write(dir, "t6.json", R"({"model": {"type": "BPE", "vocab": {"a": "zero"}}, )" + pre + "}"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("bad id"), std::string::npos) << r.message();
}

TEST(BadInput, MergesNamingUnknownTokens) {
  test::TempDir dir;
  const std::string pre = R"("pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  auto r = Tokenizer::from_hf(write(dir, "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a zz"]}, )" + pre + "}"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("a zz"), std::string::npos) << r.message();
  // The array form of merges is accepted and means the same.
  auto ok = Tokenizer::from_hf(write(dir, "t2.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}, )" + pre + "}"));
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->encode("ab"), (std::vector<int32_t>{2}));
}

Result<Tokenizer> gguf_tokenizer(const test::TempDir& dir, const std::function<void(GgufWriter&)>& fill) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  fill(w);
  const auto path = (dir / "v.gguf").string();
  auto st = w.write(path, [](size_t, std::span<std::byte>) { return ok_status(); });
  if (!st.ok()) return st;
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  return Tokenizer::from_gguf(*f);
}

TEST(BadInput, GgufVocabularies) {
  test::TempDir dir;
  auto none = gguf_tokenizer(dir, [](GgufWriter&) {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.message().find("tokenizer.ggml.model"), std::string::npos) << none.message();
  auto trained = train_byte_bpe(kTrainText, 300, "deepseek-v3");
  ASSERT_TRUE(trained.ok());
  auto base = [&](GgufWriter& w) {
    w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
    w.set("tokenizer.ggml.tokens", GgufValue::string_array(trained->tokens));
    w.set("tokenizer.ggml.merges", GgufValue::string_array(trained->merges));
  };
  auto unknown_pre = gguf_tokenizer(dir, [&](GgufWriter& w) {
    base(w);
    w.set("tokenizer.ggml.pre", GgufValue::str("deepseek-v9"));
  });
  ASSERT_FALSE(unknown_pre.ok());
  EXPECT_NE(unknown_pre.message().find("deepseek-v9"), std::string::npos) << unknown_pre.message();
  auto no_pre = gguf_tokenizer(dir, base);
  ASSERT_FALSE(no_pre.ok());
  EXPECT_NE(no_pre.message().find("tokenizer.ggml.pre"), std::string::npos) << no_pre.message();
  auto bad_merge = gguf_tokenizer(dir, [&](GgufWriter& w) {
    base(w);
    w.set("tokenizer.ggml.pre", GgufValue::str("deepseek-v3"));
    auto m = trained->merges;
    m.push_back("Ġ qqqq");
    w.set("tokenizer.ggml.merges", GgufValue::string_array(m));
  });
  ASSERT_FALSE(bad_merge.ok());
  EXPECT_NE(bad_merge.message().find("qqqq"), std::string::npos) << bad_merge.message();
  auto unknown_model = gguf_tokenizer(dir, [&](GgufWriter& w) {
    base(w);
    w.set("tokenizer.ggml.model", GgufValue::str("bert"));
  });
  ASSERT_FALSE(unknown_model.ok());
  EXPECT_NE(unknown_model.message().find("bert"), std::string::npos) << unknown_model.message();
  auto good = gguf_tokenizer(dir, [&](GgufWriter& w) {
    base(w);
    w.set("tokenizer.ggml.pre", GgufValue::str("deepseek-v3"));
  });
  ASSERT_TRUE(good.ok()) << good.message();
  EXPECT_EQ(good->decode(good->encode("the park 123")), "the park 123");
  EXPECT_FALSE(Tokenizer::load((dir / "missing.gguf").string()).ok());
}

// --- CLI contract ------------------------------------------------------------

TEST(Cli, TokenizeDetokenize) {
  const auto data = test::testdata_dir();
  if (data.empty()) GTEST_SKIP() << "../shared/testdata is missing";
  const std::string m = "-m '" + (data / "tokenizer/ggml-vocab-deepseek-llm.gguf").string() + "'";
  auto r = test::run_dseek("tokenize " + m + " --ids", "Hello world");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "17464 1843\n");
  r = test::run_dseek("tokenize " + m + " --ids", "\n\n");  // stdin byte for byte, trailing newlines kept
  EXPECT_EQ(r.out, "185 185\n");
  r = test::run_dseek("tokenize " + m + " --jsonl", "\"Hello world\"\n\" \"\n");
  EXPECT_EQ(r.out, "[17464,1843]\n[207]\n");
  r = test::run_dseek("tokenize " + m + " --pieces", "Hello world");
  EXPECT_EQ(r.out, "[\"Hello\",\"Ġworld\"]\n");
  r = test::run_dseek("detokenize " + m, "17464 1843");
  EXPECT_EQ(r.out, "Hello world");
  r = test::run_dseek("detokenize " + m, "99999999");
  EXPECT_EQ(r.exit_code, 2);
  r = test::run_dseek("tokenize -m /nonexistent.gguf --ids", "x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nonexistent"), std::string::npos);
  r = test::run_dseek("tokenize --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--no-special"), std::string::npos);
  const fs::path json = test::v3_tokenizer_json();
  if (json.empty()) return;
  r = test::run_dseek("tokenize -m '" + json.parent_path().string() + "' --ids", "<｜User｜>hi");
  EXPECT_EQ(r.out, "128803 6366\n");
  r = test::run_dseek("tokenize -m '" + json.string() + "' --ids --no-special", "<｜User｜>");
  EXPECT_EQ(r.out.find("128803"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace dseek
