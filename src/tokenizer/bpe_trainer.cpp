// See bpe_trainer.h. Words are deduplicated pre-tokens with counts; std::map
// keeps every iteration order (and so the result) independent of hashing.
#include "tokenizer/bpe_trainer.h"

#include <map>
#include <unordered_map>

#include "tokenizer/byte_unicode.h"
#include "tokenizer/pretokenizer.h"

namespace dseek {

Result<TrainedBpe> train_byte_bpe(std::string_view text, size_t target_vocab_size, std::string_view pre_name) {
  auto spec = pretokenizer_spec(pre_name);
  if (!spec.ok()) return spec.status();
  auto pre = PreTokenizer::compile(*spec);
  if (!pre.ok()) return pre.status();
  std::map<std::string, int64_t> counts;
  {
    PreTokenizer::Scratch scratch;
    std::vector<Span> spans;
    pre->split(text, spans, scratch);
    for (const Span& s : spans) ++counts[std::string(text.substr(s.begin, s.len))];
  }
  TrainedBpe r;
  for (int b = 0; b < 256; ++b) {
    std::string t;
    append_utf8(t, byte_to_codepoint(static_cast<uint8_t>(b)));
    r.tokens.push_back(std::move(t));
  }
  std::unordered_map<std::string, int32_t> index;
  for (size_t i = 0; i < r.tokens.size(); ++i) index.emplace(r.tokens[i], static_cast<int32_t>(i));
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> freq;
  for (const auto& [w, c] : counts) {
    words.emplace_back();
    for (char ch : w) words.back().push_back(static_cast<uint8_t>(ch));
    freq.push_back(c);
  }
  while (r.tokens.size() < target_vocab_size) {
    std::map<std::pair<int32_t, int32_t>, int64_t> pairs;
    for (size_t w = 0; w < words.size(); ++w)
      for (size_t i = 0; i + 1 < words[w].size(); ++i) pairs[{words[w][i], words[w][i + 1]}] += freq[w];
    std::pair<int32_t, int32_t> best{-1, -1};
    int64_t best_count = 1;
    for (const auto& [p, c] : pairs)
      if (c > best_count) best = p, best_count = c;  // strict '>' keeps the lowest ids on ties
    if (best.first < 0) break;
    const std::string merged = r.tokens[best.first] + r.tokens[best.second];
    auto [it, added] = index.emplace(merged, static_cast<int32_t>(r.tokens.size()));
    if (added) r.tokens.push_back(merged);
    r.merges.push_back(r.tokens[best.first] + " " + r.tokens[best.second]);
    for (auto& word : words) {
      size_t out = 0;
      for (size_t i = 0; i < word.size(); ++i) {
        if (i + 1 < word.size() && word[i] == best.first && word[i + 1] == best.second) {
          word[out++] = it->second;
          ++i;
        } else {
          word[out++] = word[i];
        }
      }
      word.resize(out);
    }
  }
  return r;
}

}  // namespace dseek
