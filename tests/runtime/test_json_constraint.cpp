// JsonPrefixChecker and mask_logits: every prefix of valid documents is
// accepted, classic mistakes are rejected at the offending byte, complete()
// flips exactly when the value ends, and a seeded differential against
// nlohmann::json on random JSON-ish strings.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "runtime/json_constraint.h"
#include "support/json_acceptor.h"

namespace dseek {
namespace {

// Feeds s one byte at a time; returns the index of the first rejected byte, or
// s.size() if all were accepted.
size_t first_rejected(JsonPrefixChecker& c, std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!c.feed(s.substr(i, 1))) return i;
  }
  return s.size();
}

// Index one past the last non-whitespace byte: from there on the value is complete.
size_t value_end(std::string_view s) { return s.find_last_not_of(" \t\r\n") + 1; }

TEST(JsonConstraintPrefix, AcceptsEveryPrefixOfValidObjects) {
  const std::vector<std::string> docs = {
      "{}",
      " {\"a\": 1}  ",
      "{\"a\":[1,2,[3,[4,{}]],[]],\"b\":{\"c\":{\"d\":null}}}",
      "{\"esc\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC\"}",
      "{\"pair\":\"\\ud83d\\ude00\",\"hi\":\"\\uDBFF\\uDFFF\",\"bmp\":\"\\uE000\\uffff\\u0000\"}",
      "{\"n\":[0,-0,12,-3.25,1e5,1E+5,2.5e-10,-0.0e0,123456789012345678901234567890]}",
      "{\"t\":true,\"f\":false,\"z\":null}",
      "{\"utf8\":\"สวัสดี 你好 😀 \xC2\xA9 \xEF\xBF\xBD \xF4\x8F\xBF\xBF\",\"\xE2\x82\xAC\":1}",
      "{\n\t\"a\" :\r\n [ 1 , 2 ] ,\n \"b\" : { } \n}\n",
  };
  for (const auto& doc : docs) {
    SCOPED_TRACE(doc);
    JsonPrefixChecker c;
    const size_t end = value_end(doc);
    for (size_t i = 0; i < doc.size(); ++i) {
      ASSERT_TRUE(c.feed(doc.substr(i, 1))) << "byte " << i;
      EXPECT_EQ(c.complete(), i + 1 >= end) << "after byte " << i;
    }
    JsonPrefixChecker whole;
    EXPECT_TRUE(whole.feed(doc));
    EXPECT_TRUE(whole.complete());
    EXPECT_TRUE(nlohmann::json::accept(doc));  // the documents themselves are right
  }
}

TEST(JsonConstraintPrefix, NonObjectTopLevelWhenAllowed) {
  struct Case {
    std::string text;
    bool complete;
  };
  const std::vector<Case> cases = {{"123", true},   {"-0.5e3", true}, {"[1,\"a\"]", true}, {"\"x\"", true},
                                   {"true", true},  {"null ", true},  {"-", false},      {"1.", false},
                                   {"1e", false},   {"1e+", false},   {"[1", false},     {"tr", false},
                                   {"\"ab", false}, {"", false}};
  for (const auto& [text, complete] : cases) {
    JsonPrefixChecker c(false);
    ASSERT_TRUE(c.feed(text)) << text;
    EXPECT_EQ(c.complete(), complete) << text;
  }
  JsonPrefixChecker c(false);
  EXPECT_TRUE(c.feed("12"));
  EXPECT_FALSE(c.feed("a"));  // a top-level number may only be followed by whitespace
  EXPECT_TRUE(c.feed("3 "));
  EXPECT_FALSE(c.feed("4"));
}

TEST(JsonConstraintReject, AtTheOffendingByte) {
  struct Case {
    std::string text;
    size_t at;
  };
  const std::vector<Case> cases = {
      {"{\"a\":1,}", 7},                        // trailing comma in an object
      {"{\"a\":[1,]}", 8},                      // ... in an array
      {"{'a':1}", 1},                           // single quotes
      {"{\"a\":01}", 6},                        // leading zero
      {"{\"a\":-01}", 7},
      {"{\"a\":\"x\x01\"}", 7},                 // unescaped control character
      {"{\"a\":\"x\ty\"}", 7},
      {"{\"a\" 1}", 5},                         // missing colon
      {"{}{}", 2},                              // two top-level values
      {"{} x", 3},
      {"[1]", 0},                               // top-level array in json_object mode
      {" \"s\"", 1},
      {"{\"a\":tru}", 8},
      {"{\"a\":nul1}", 8},
      {"{\"a\":-}", 6},
      {"{\"a\":1.}", 7},
      {"{\"a\":1e}", 7},
      {"{\"a\":.5}", 5},
      {"{\"a\":+1}", 5},
      {"{\"a\":1]", 6},                         // mismatched closer
      {"{\"a\":[1}", 7},
      {"{1:2}", 1},                             // non-string key
      {"{\"a\":1 \"b\":2}", 7},                 // missing comma
      {"{,}", 1},
      {"{\"a\":\"\\x\"}", 7},                   // bad escape
      {"{\"a\":\"\\u12G4\"}", 10},
      {"{\"a\":\"\\uD800\\u0041\"}", 14},       // high surrogate, then not a low one
      {"{\"a\":\"\\uD800x\"}", 12},
      {"{\"a\":\"\\uD800\\n\"}", 13},
      {"{\"a\":\"\\uDC00\"}", 9},               // lone low surrogate: known at its 2nd digit
      {"{\"a\":\"\xC0\x80\"}", 6},              // never valid in UTF-8
      {"{\"a\":\"\xF5\"}", 6},
      {"{\"a\":\"\x80\"}", 6},                  // stray continuation byte
      {"{\"a\":\"\xE0\x80\x80\"}", 7},          // overlong
      {"{\"a\":\"\xED\xA0\x80\"}", 7},          // UTF-8-encoded surrogate
      {"{\"a\":\"\xF4\x90\x80\x80\"}", 7},      // above U+10FFFF
      {"{\"a\":\"\xC3\"}", 7},                  // truncated sequence
      {"{\"a\":\"\xE2\x82x\"}", 8},
      {"{\x80}", 1},
  };
  for (const auto& [text, at] : cases) {
    JsonPrefixChecker c;
    EXPECT_EQ(first_rejected(c, text), at) << text;
    JsonPrefixChecker whole;
    EXPECT_FALSE(whole.feed(text)) << text;
    const bool non_object = text == "[1]" || text == " \"s\"";  // valid JSON, just not json_object
    EXPECT_EQ(nlohmann::json::accept(text), non_object) << text;
  }
}

TEST(JsonConstraintReject, RejectedFeedLeavesStateUnchanged) {
  JsonPrefixChecker c;
  ASSERT_TRUE(c.feed("{\"a\":"));
  EXPECT_FALSE(c.feed("1,}"));  // partly fine, then wrong: nothing is taken
  EXPECT_FALSE(c.feed("}"));
  EXPECT_FALSE(c.complete());
  EXPECT_TRUE(c.accepts("1}"));
  EXPECT_FALSE(c.complete());  // accepts() does not move the state
  EXPECT_TRUE(c.feed("1}"));
  EXPECT_TRUE(c.complete());
}

TEST(JsonConstraintReject, WhitespaceRunsAreCapped) {
  const std::string eight(8, ' '), nine(9, ' ');
  JsonPrefixChecker lead;
  EXPECT_EQ(first_rejected(lead, nine + "{}"), 8u);
  JsonPrefixChecker inner;
  EXPECT_TRUE(inner.feed(eight + "{" + eight + "\"a\"" + eight + ":" + eight + "1" + eight + "}" + eight));
  EXPECT_TRUE(inner.complete());
  EXPECT_FALSE(inner.feed(" "));  // trailing run is capped too: only an end token fits now
  JsonPrefixChecker mixed;
  EXPECT_EQ(first_rejected(mixed, "{ \t\r\n \t\r\n \"a\":1}"), 9u);
  JsonPrefixChecker in_string;  // whitespace inside strings is content, not padding
  EXPECT_TRUE(in_string.feed("{\"a\":\"" + std::string(100, ' ') + "\"}"));
  EXPECT_TRUE(in_string.complete());
}

TEST(JsonConstraintReject, DepthIsCapped) {
  JsonPrefixChecker c;
  const std::string deep = "{\"a\":" + std::string(JsonPrefixChecker::kMaxDepth - 1, '[');
  ASSERT_TRUE(c.feed(deep));
  EXPECT_FALSE(c.feed("["));
  EXPECT_FALSE(c.feed("{"));
  std::string rest = "1";  // (built by append: GCC 12 warns falsely on "1" + std::string(n, c))
  rest.append(JsonPrefixChecker::kMaxDepth - 1, ']').append("}");
  EXPECT_TRUE(c.feed(rest));
  EXPECT_TRUE(c.complete());
}

using Acceptor = dseek::test::JsonAcceptor;

std::optional<bool> oracle(const std::string& s) {
  Acceptor a;
  const bool ok = nlohmann::json::sax_parse(s, &a, nlohmann::json::input_format_t::json, true);
  if (a.overflow) return std::nullopt;
  const size_t first = s.find_first_not_of(" \t\r\n");
  return ok && first != std::string::npos && s[first] == '{';  // json_object: top level is an object
}

// A random valid value (bounded depth and size), with 0-2 whitespace bytes between tokens.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  std::string document() {
    std::string s;
    space(s);
    object(s, 0);
    space(s);
    return s;
  }
  std::string soup() {
    static const std::vector<std::string> kFragments = {
        "{", "}", "[", "]", ":", ",", "\"", "\"a\"", "\"k\":", " ", "\n", "\t", "\r", "0", "1", "9", "-", ".", "e",
        "E", "+", "true", "false", "null", "tru", "nul", "\\", "\\n", "\\\"", "\\u00e9", "\\ud83d\\ude00", "\\ud83d",
        "\\udc00", "\\u12", "é", "😀", "\xE0", "\x80", "\xC0", "'", "x", "\x01", "{\"a\":", "[1,", "1}"};
    std::string s;
    const int n = pick(1, 24);
    for (int i = 0; i < n; ++i) s += kFragments[static_cast<size_t>(pick(0, static_cast<int>(kFragments.size()) - 1))];
    return s;
  }
  // A valid document with one random edit: most become invalid, some stay valid.
  std::string mutated() {
    std::string s = document();
    const size_t at = static_cast<size_t>(pick(0, static_cast<int>(s.size()) - 1));
    switch (pick(0, 2)) {
      case 0: s.erase(at, 1); break;
      case 1: s.insert(at, soup().substr(0, 4)); break;
      default: s[at] = "{}[]\":,0-.e \\ux\x80"[pick(0, 15)]; break;
    }
    return s;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  void space(std::string& s) {
    for (int i = pick(0, 2); i > 0; --i) s += " \n\t\r"[pick(0, 3)];
  }
  void value(std::string& s, int depth) {
    static const std::vector<std::string> kScalars = {"0", "-1", "42", "3.14", "-0.5e-3", "1E+9", "2e10", "true",
                                                      "false", "null"};
    const int kind = pick(0, depth >= 4 ? 1 : 3);
    if (kind == 0) s += kScalars[static_cast<size_t>(pick(0, static_cast<int>(kScalars.size()) - 1))];
    else if (kind == 1) string(s);
    else if (kind == 2) object(s, depth + 1);
    else array(s, depth + 1);
  }
  void string(std::string& s) {
    static const std::vector<std::string> kChars = {"a", "Z", " ", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u0041",
                                                    "\\uD83D\\uDE00", "é", "ก", "中", "😀", "'", "{", "]"};
    s += '"';
    for (int i = pick(0, 4); i > 0; --i) s += kChars[static_cast<size_t>(pick(0, static_cast<int>(kChars.size()) - 1))];
    s += '"';
  }
  void object(std::string& s, int depth) {
    s += '{';
    for (int i = 0, n = pick(0, 3); i < n; ++i) {
      if (i > 0) s += ',';
      space(s);
      string(s);
      space(s);
      s += ':';
      space(s);
      value(s, depth);
      space(s);
    }
    s += '}';
  }
  void array(std::string& s, int depth) {
    s += '[';
    for (int i = 0, n = pick(0, 3); i < n; ++i) {
      if (i > 0) s += ',';
      space(s);
      value(s, depth);
      space(s);
    }
    s += ']';
  }
  std::mt19937_64 rng_;
};

// The generators never produce more than 8 whitespace bytes in a row or more
// than 64 brackets, so the checker's extra caps cannot decide.
bool within_caps(const std::string& s) {
  int run = 0, brackets = 0;
  for (char c : s) {
    run = (c == ' ' || c == '\n' || c == '\t' || c == '\r') ? run + 1 : 0;
    if (run > JsonPrefixChecker::kMaxSpaceRun) return false;
    brackets += c == '[' || c == '{';
  }
  return brackets <= JsonPrefixChecker::kMaxDepth;
}

TEST(JsonConstraintDifferential, AgreesWithNlohmannOnRandomStrings) {
  Generator gen(20240611);
  int valid = 0, invalid = 0, skipped = 0;
  for (int i = 0; i < 6000; ++i) {
    const std::string s = i % 3 == 0 ? gen.document() : i % 3 == 1 ? gen.mutated() : gen.soup();
    const std::optional<bool> want = oracle(s);
    if (!want || !within_caps(s)) {
      ++skipped;
      continue;
    }
    JsonPrefixChecker bytewise, whole;
    const bool got = first_rejected(bytewise, s) == s.size() && bytewise.complete();
    ASSERT_EQ(got, *want) << "input: " << s;
    ASSERT_EQ(whole.feed(s) && whole.complete(), *want) << "input: " << s;
    (*want ? valid : invalid) += 1;
  }
  // Both verdicts must be well represented for the comparison to mean anything.
  EXPECT_GT(valid, 1500);
  EXPECT_GT(invalid, 1500);
  EXPECT_LT(skipped, 300);
  std::printf("differential: %d valid, %d invalid, %d skipped\n", valid, invalid, skipped);
}

TEST(JsonConstraintMask, SmallVocabulary) {
  const std::vector<std::string> vocab = {"{", "}", "\"", "a", ":", "1", " ", "", "<eos>", "{\"", "\"}", "x", "[",
                                          ",", "\xC3", "\xA9", "  \n"};
  const int32_t eos = 8;
  const std::vector<int32_t> ends = {eos, eos, 1000};  // duplicates and out-of-range ids are harmless
  auto allowed = [&](const JsonPrefixChecker& state) {
    std::vector<float> logits(vocab.size());
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = 0.5f * static_cast<float>(i);
    mask_logits(state, vocab, ends, logits.data());
    std::string ids;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (std::isinf(logits[i])) EXPECT_LT(logits[i], 0);
      else {
        EXPECT_EQ(logits[i], 0.5f * static_cast<float>(i));  // allowed logits are untouched
        ids += std::to_string(i) + " ";
      }
    }
    return ids;
  };
  JsonPrefixChecker s;
  EXPECT_EQ(allowed(s), "0 6 9 16 ");  // { ' ' {" '  \n'
  ASSERT_TRUE(s.feed("{"));
  EXPECT_EQ(allowed(s), "1 2 6 10 16 ");
  ASSERT_TRUE(s.feed("\"a"));
  EXPECT_EQ(allowed(s), "0 1 2 3 4 5 6 9 11 12 13 14 ");  // text: not "  \n" (raw newline), not the end token though its bytes fit
  ASSERT_TRUE(s.feed("\xC3"));
  EXPECT_EQ(allowed(s), "15 ");  // only the continuation byte
  ASSERT_TRUE(s.feed("\xA9\":1}"));
  EXPECT_EQ(allowed(s), "6 8 16 ");  // complete: whitespace or the end token
  ASSERT_TRUE(s.feed("    "));
  ASSERT_TRUE(s.feed("    "));
  EXPECT_EQ(allowed(s), "8 ");  // whitespace cap reached: only the end token
}

TEST(JsonConstraintMask, EndTokensStayWhenNothingElseFits) {
  const std::vector<std::string> vocab = {"x", "", "]"};
  const std::vector<int32_t> ends = {1};
  std::vector<float> logits = {1, 2, 3};
  mask_logits(JsonPrefixChecker(), vocab, ends, logits.data());
  EXPECT_TRUE(std::isinf(logits[0]));
  EXPECT_EQ(logits[1], 2);  // the (empty) end token survives so generation can stop
  EXPECT_TRUE(std::isinf(logits[2]));
}

TEST(JsonConstraintMask, FullSizeVocabularyIsFast) {
  // 129280 byte-level tokens of 1-8 bytes, like DeepSeek-V3's vocabulary size.
  std::mt19937_64 rng(5);
  const std::string alphabet = "{}[]\":, \nabcdefgtrunl0123456789.-e\\\xC3\xA9";
  std::vector<std::string> vocab(129280);
  for (auto& t : vocab) {
    for (int n = 1 + static_cast<int>(rng() % 8); n > 0; --n) t += alphabet[rng() % alphabet.size()];
  }
  JsonPrefixChecker s;
  ASSERT_TRUE(s.feed("{\"key\": [1, \"va"));
  std::vector<float> logits(vocab.size(), 0.0f);
  const std::vector<int32_t> ends = {1};
  const auto t0 = std::chrono::steady_clock::now();
  mask_logits(s, vocab, ends, logits.data());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  size_t kept = 0;
  for (float l : logits) kept += !std::isinf(l);
  EXPECT_GT(kept, 1000u);
  EXPECT_LT(kept, vocab.size());
  EXPECT_LT(ms, 500.0);  // ~a few ms in a release build; generous for sanitizer builds
  std::printf("mask_logits over %zu tokens: %.2f ms, %zu kept\n", vocab.size(), ms, kept);
}

}  // namespace
}  // namespace dseek
