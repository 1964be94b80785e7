// Parity with the JS oracle (@lenml/tokenizers, pinned in tools/oracle) on the
// real DeepSeek-V3 tokenizer.json: multilingual samples (whole files and line by
// line), this repo's source code, and thousands of random Unicode strings from a
// fixed seed. Both sides: no BOS/EOS, special-token text parsed (the library's
// default). One node run for all cases (JSONL in, JSONL out).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace dseek {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string label, text;
};

std::string cp(uint32_t c) {
  std::string s;
  if (c < 0x80) s += static_cast<char>(c);
  else if (c < 0x800) s += static_cast<char>(0xC0 | (c >> 6)), s += static_cast<char>(0x80 | (c & 0x3F));
  else if (c < 0x10000)
    s += static_cast<char>(0xE0 | (c >> 12)), s += static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
        s += static_cast<char>(0x80 | (c & 0x3F));
  else
    s += static_cast<char>(0xF0 | (c >> 18)), s += static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), s += static_cast<char>(0x80 | (c & 0x3F));
  return s;
}

// A random string mixing scripts, marks, digits, whitespace runs and special-token texts.
std::string random_text(std::mt19937& rng, const std::vector<std::string>& specials) {
  auto pick = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
  static const char* const kWords[] = {"the", "Hello", "I've", "don't", "x", "API", "foo_bar", "'s", "HTTP",
                                       "naïve", "Straße", "über", "Việt", "нещо", "func(", "a.b", "=>", "..."};
  static const char* const kSpaces[] = {" ", "  ", "\t", "\n", "\r\n", "\n\n", " \n", "\t\t ", "   \n  ",
                                        "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\x89", "\v", "\f",
                                        "\xE2\x80\xA8", "\xE1\x9A\x80", "\xE2\x80\xAF"};
  // Not here: U+0085 and U+FEFF, where JavaScript's \s differs from HF's (see
  // HfWhitespaceNotJavaScripts below).
  std::string s;
  const uint32_t parts = pick(1, 24);
  for (uint32_t i = 0; i < parts; ++i) {
    switch (pick(0, 13)) {
      case 0: s += kWords[pick(0, std::size(kWords) - 1)]; break;
      case 1: for (uint32_t k = pick(1, 6); k--;) s += static_cast<char>(pick(0x21, 0x7E)); break;
      case 2: for (uint32_t k = pick(1, 4); k--;) s += cp(pick(0xA1, 0x17F)); break;    // Latin-1 + Ext-A
      case 3: for (uint32_t k = pick(1, 8); k--;) s += cp(pick(0x4E00, 0x9FA5)); break;  // CJK
      case 4: for (uint32_t k = pick(1, 6); k--;) s += cp(pick(0x3041, 0x30FF)); break;  // kana
      case 5: for (uint32_t k = pick(1, 8); k--;) s += cp(pick(0x0E01, 0x0E5B)); break;  // Thai
      case 6: for (uint32_t k = pick(1, 8); k--;) s += cp(pick(0x1780, 0x17F9)); break;  // Khmer
      case 7:  // emoji, sometimes ZWJ sequences and variation selectors
        s += cp(pick(0x1F300, 0x1F64F));
        if (pick(0, 2) == 0) s += cp(0x200D) + cp(pick(0x1F300, 0x1F64F));
        if (pick(0, 3) == 0) s += cp(0xFE0F);
        break;
      case 8: s += cp(pick(0x300, 0x36F)); break;  // combining mark (possibly at the start)
      case 9: for (uint32_t k = pick(1, 7); k--;) s += static_cast<char>('0' + pick(0, 9)); break;
      case 10: s += pick(0, 1) ? cp(pick(0x660, 0x669)) : cp(pick(0xFF10, 0xFF19)); break;  // other \p{N}
      case 11: s += kSpaces[pick(0, std::size(kSpaces) - 1)]; break;
      case 12: s += specials[pick(0, static_cast<uint32_t>(specials.size() - 1))]; break;
      default: s += cp(pick(0xAC00, 0xD7A3)); break;  // Hangul
    }
  }
  return s;
}

std::string find_node() {
  FILE* p = popen("command -v node 2>/dev/null", "r");
  if (!p) return "";
  char buf[512] = {0};
  std::string out = std::fgets(buf, sizeof buf, p) ? buf : "";
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::vector<Case> build_cases(const Tokenizer& tok) {
  std::vector<Case> cases;
  const auto data = test::testdata_dir();
  if (!data.empty()) {
    for (const auto& e : fs::directory_iterator(data / "multilingual")) {
      const std::string text = test::read_file(e.path());
      const std::string name = e.path().filename().string();
      cases.push_back({name, text});
      std::istringstream lines(text);
      std::string line;
      for (int n = 1; std::getline(lines, line); ++n) cases.push_back({name + ":" + std::to_string(n), line});
    }
  }
  for (const char* dir : {"src/tokenizer", "src/core", "src/cli", "src/format", "tools/oracle"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(DSEEK_SOURCE_DIR) / dir, ec)) {
      const auto ext = e.path().extension();
      if (e.is_regular_file() && (ext == ".cpp" || ext == ".h" || ext == ".mjs" || ext == ".json"))
        cases.push_back({e.path().filename().string(), test::read_file(e.path())});
    }
  }
  std::vector<std::string> specials;
  for (const auto& a : tok.added_tokens()) specials.push_back(a.content);
  specials.push_back("<think>");
  specials.push_back("</think>");
  std::mt19937 rng(20261123);
  for (int i = 0; i < 4000; ++i) cases.push_back({"random#" + std::to_string(i), random_text(rng, specials)});
  return cases;
}

TEST(V3Oracle, MatchesJsTokenizer) {
  const fs::path json = test::v3_tokenizer_json();
  if (json.empty()) GTEST_SKIP() << "the JS oracle package is not installed (tools/oracle: npm ci)";
  const std::string node = find_node();
  if (node.empty()) GTEST_SKIP() << "node is not on PATH: cannot run the JS tokenizer oracle";
  auto tok = Tokenizer::from_hf(json.string());
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ(tok->info().pre, "deepseek-v3");
  const auto cases = build_cases(*tok);

  test::TempDir tmp;
  {
    std::ofstream in(tmp / "in.jsonl", std::ios::binary);
    for (const auto& c : cases) in << nlohmann::json(c.text).dump() << "\n";
  }
  const std::string cmd = "'" + node + "' '" + DSEEK_SOURCE_DIR + "/tools/oracle/tokenize_oracle.mjs' '" +
                          (tmp / "in.jsonl").string() + "' > '" + (tmp / "out.jsonl").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::istringstream out(test::read_file(tmp / "out.jsonl"));
  size_t mismatches = 0, n = 0;
  Tokenizer::Scratch scratch;
  std::vector<int32_t> ids;
  for (std::string line; std::getline(out, line); ++n) {
    ASSERT_LT(n, cases.size());
    const auto want = nlohmann::json::parse(line).get<std::vector<int32_t>>();
    tok->encode(cases[n].text, {}, scratch, ids);
    if (ids != want && ++mismatches <= 5)
      ADD_FAILURE() << cases[n].label << ": " << nlohmann::json(cases[n].text).dump().substr(0, 300)
                    << "\n  want " << test::ids_str(want).substr(0, 400) << "\n       "
                    << test::pieces_str(*tok, want).substr(0, 400) << "\n  got  " << test::ids_str(ids).substr(0, 400)
                    << "\n       " << test::pieces_str(*tok, ids).substr(0, 400);
    EXPECT_EQ(tok->decode(ids), cases[n].text) << "round trip: " << cases[n].label;
  }
  EXPECT_EQ(n, cases.size());
  std::printf("[ V3 oracle ] %zu cases, %zu mismatches\n", n, mismatches);
  EXPECT_EQ(mismatches, 0u);
}

// \s is Unicode White_Space as in HF tokenizers (Oniguruma): U+0085 (NEL) is
// whitespace, U+FEFF (BOM) is not. JavaScript's \s says the opposite for both,
// so the JS oracle splits these two differently; we follow HF, which trained the model.
TEST(V3Oracle, HfWhitespaceNotJavaScripts) {
  auto spec = pretokenizer_spec("deepseek-v3");
  ASSERT_TRUE(spec.ok());
  auto pre = PreTokenizer::compile(*spec);
  ASSERT_TRUE(pre.ok()) << pre.message();
  auto split = [&](const std::string& text) { return test::split_pieces(*pre, text); };
  using V = std::vector<std::string>;
  EXPECT_EQ(split("  \xC2\x85x"), (V{"  ", "\xC2\x85x"}));          // NEL: whitespace
  EXPECT_EQ(split("  \xEF\xBB\xBFx"), (V{" ", " ", "\xEF\xBB\xBFx"}));  // BOM: not whitespace
}

}  // namespace
}  // namespace dseek
