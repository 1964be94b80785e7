// See bpe_trainer.h. Words are deduplicated pre-tokens with counts; std::map
// keeps every iteration order (and so the result) independent of hashing.
#include "tokenizer/bpe_trainer.h"

#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "tokenizer/byte_unicode.h"
#include "tokenizer/pretokenizer.h"

namespace dseek {

Result<TrainedBpe> train_byte_bpe(std::string_view text, size_t target_vocab_size, std::string_view pre_name,
                                  const std::function<void(size_t, size_t)>& progress) {
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

  // Pair -> total count, an ordered set to find the best pair (count high,
  // then lowest ids), and pair -> the words holding it.
  using Pair = std::pair<int32_t, int32_t>;
  std::map<Pair, int64_t> pair_count;
  std::set<std::pair<int64_t, Pair>, std::function<bool(const std::pair<int64_t, Pair>&, const std::pair<int64_t, Pair>&)>>
      ranked([](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
  std::map<Pair, std::set<size_t>> where;
  auto adjust = [&](const Pair& p, int64_t delta) {
    int64_t& c = pair_count[p];
    if (c > 0) ranked.erase({c, p});
    c += delta;
    if (c > 0) ranked.insert({c, p});
  };
  for (size_t w = 0; w < words.size(); ++w)
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      adjust({words[w][i], words[w][i + 1]}, freq[w]);
      where[{words[w][i], words[w][i + 1]}].insert(w);
    }

  const size_t wanted = target_vocab_size > r.tokens.size() ? target_vocab_size - r.tokens.size() : 0;
  while (r.tokens.size() < target_vocab_size && !ranked.empty()) {
    const auto [best_count, best] = *ranked.begin();
    if (best_count < 2) break;
    const std::string merged = r.tokens[static_cast<size_t>(best.first)] + r.tokens[static_cast<size_t>(best.second)];
    auto [it, added] = index.emplace(merged, static_cast<int32_t>(r.tokens.size()));
    if (added) r.tokens.push_back(merged);
    r.merges.push_back(r.tokens[static_cast<size_t>(best.first)] + " " + r.tokens[static_cast<size_t>(best.second)]);
    const std::set<size_t> holders = std::move(where[best]);
    where.erase(best);
    for (size_t w : holders) {
      auto& word = words[w];
      for (size_t i = 0; i + 1 < word.size(); ++i) adjust({word[i], word[i + 1]}, -freq[w]);
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
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        adjust({word[i], word[i + 1]}, freq[w]);
        where[{word[i], word[i + 1]}].insert(w);
      }
    }
    if (progress && r.merges.size() % 64 == 0) progress(r.merges.size(), wanted);
  }
  if (progress) progress(r.merges.size(), wanted);
  return r;
}

}  // namespace dseek
