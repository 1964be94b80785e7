// See special_tokens.h. transformers.js builds one alternation of all added
// tokens sorted longest-first; scanning positions left to right and trying the
// candidates for that first byte longest-first gives the same matches.
#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <cstring>

namespace dseek {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
// Word characters for single_word: ASCII alphanumerics, '_' and any non-ASCII byte
// (an approximation of \w that errs on the side of not matching).
bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || u == '_';
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (uint32_t i = 0; i < tokens_.size(); ++i)
    if (!tokens_[i].content.empty())
      by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  for (auto& v : by_first_byte_)
    std::stable_sort(v.begin(), v.end(),
                     [&](uint32_t a, uint32_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

size_t AddedTokenMatcher::match_at(std::string_view text, size_t pos, size_t& hit) const {
  for (uint32_t i : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
    const auto& t = tokens_[i];
    if (t.content.size() > text.size() - pos || std::memcmp(text.data() + pos, t.content.data(), t.content.size()))
      continue;
    if (t.single_word) {
      const size_t end = pos + t.content.size();
      if ((pos > 0 && is_word_byte(text[pos - 1])) || (end < text.size() && is_word_byte(text[end]))) continue;
    }
    hit = i;
    return t.content.size();
  }
  return 0;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextPiece>& out) const {
  out.clear();
  size_t plain_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (by_first_byte_[static_cast<unsigned char>(text[pos])].empty()) {
      ++pos;
      continue;
    }
    size_t hit = 0;
    const size_t len = match_at(text, pos, hit);
    if (len == 0) {
      ++pos;
      continue;
    }
    const AddedToken& t = tokens_[hit];
    size_t plain_end = pos, next = pos + len;
    if (t.lstrip)
      while (plain_end > plain_start && is_space(text[plain_end - 1])) --plain_end;
    if (t.rstrip)
      while (next < text.size() && is_space(text[next])) ++next;
    if (plain_end > plain_start)
      out.push_back({static_cast<uint32_t>(plain_start), static_cast<uint32_t>(plain_end - plain_start), -1});
    out.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), t.id});
    pos = plain_start = next;
  }
  if (text.size() > plain_start)
    out.push_back({static_cast<uint32_t>(plain_start), static_cast<uint32_t>(text.size() - plain_start), -1});
}

}  // namespace dseek
