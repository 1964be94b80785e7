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

namespace {

using Pair = std::pair<int32_t, int32_t>;

// The pre-tokens of `text`, each with how often it occurs.
Result<std::map<std::string, int64_t>> count_pretokens(std::string_view text, std::string_view pre_name) {
  auto spec = pretokenizer_spec(pre_name);
  if (!spec.ok()) return spec.status();
  auto pre = PreTokenizer::compile(*spec);
  if (!pre.ok()) return pre.status();
  std::map<std::string, int64_t> counts;
  PreTokenizer::Scratch scratch;
  std::vector<Span> spans;
  pre->split(text, spans, scratch);
  for (const Span& s : spans) ++counts[std::string(text.substr(s.begin, s.len))];
  return counts;
}

// Pair -> total count, an ordered set to find the best pair (count high,
// then lowest ids), and pair -> the words holding it.
class PairStats {
 public:
  // Counts the word's adjacent pairs `freq` times and records that word `w` holds them.
  void add_word(const std::vector<int32_t>& word, size_t w, int64_t freq) {
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      adjust({word[i], word[i + 1]}, freq);
      where_[{word[i], word[i + 1]}].insert(w);
    }
  }
  void uncount_word(const std::vector<int32_t>& word, int64_t freq) {
    for (size_t i = 0; i + 1 < word.size(); ++i) adjust({word[i], word[i + 1]}, -freq);
  }
  bool empty() const { return ranked_.empty(); }
  const std::pair<int64_t, Pair>& best() const { return *ranked_.begin(); }
  // The words holding `p`, forgotten here (they are recounted after the merge).
  std::set<size_t> take_holders(const Pair& p) {
    std::set<size_t> holders = std::move(where_[p]);
    where_.erase(p);
    return holders;
  }

 private:
  struct BestFirst {
    bool operator()(const std::pair<int64_t, Pair>& x, const std::pair<int64_t, Pair>& y) const {
      return x.first != y.first ? x.first > y.first : x.second < y.second;
    }
  };
  void adjust(const Pair& p, int64_t delta) {
    int64_t& c = count_[p];
    if (c > 0) ranked_.erase({c, p});
    c += delta;
    if (c > 0) ranked_.insert({c, p});
  }

  std::map<Pair, int64_t> count_;
  std::set<std::pair<int64_t, Pair>, BestFirst> ranked_;
  std::map<Pair, std::set<size_t>> where_;
};

// Replaces each occurrence of `p` in `word`, left to right, by `id`.
void merge_in_word(std::vector<int32_t>& word, const Pair& p, int32_t id) {
  size_t out = 0;
  for (size_t i = 0; i < word.size(); ++i) {
    if (i + 1 < word.size() && word[i] == p.first && word[i + 1] == p.second) {
      word[out++] = id;
      ++i;
    } else {
      word[out++] = word[i];
    }
  }
  word.resize(out);
}

}  // namespace

Result<TrainedBpe> train_byte_bpe(std::string_view text, size_t target_vocab_size, std::string_view pre_name,
                                  const std::function<void(size_t, size_t)>& progress) {
  auto counts = count_pretokens(text, pre_name);
  if (!counts.ok()) return counts.status();
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
  for (const auto& [w, c] : *counts) {
    words.emplace_back();
    for (char ch : w) words.back().push_back(static_cast<uint8_t>(ch));
    freq.push_back(c);
  }
  PairStats stats;
  for (size_t w = 0; w < words.size(); ++w) stats.add_word(words[w], w, freq[w]);

  const size_t wanted = target_vocab_size > r.tokens.size() ? target_vocab_size - r.tokens.size() : 0;
  while (r.tokens.size() < target_vocab_size && !stats.empty()) {
    const auto [best_count, best] = stats.best();
    if (best_count < 2) break;
    const std::string merged = r.tokens[static_cast<size_t>(best.first)] + r.tokens[static_cast<size_t>(best.second)];
    auto [it, added] = index.emplace(merged, static_cast<int32_t>(r.tokens.size()));
    if (added) r.tokens.push_back(merged);
    r.merges.push_back(r.tokens[static_cast<size_t>(best.first)] + " " + r.tokens[static_cast<size_t>(best.second)]);
    for (size_t w : stats.take_holders(best)) {
      stats.uncount_word(words[w], freq[w]);
      merge_in_word(words[w], best, it->second);
      stats.add_word(words[w], w, freq[w]);
    }
    if (progress && r.merges.size() % 64 == 0) progress(r.merges.size(), wanted);
  }
  if (progress) progress(r.merges.size(), wanted);
  return r;
}

}  // namespace dseek
