// See default_vocab.h. The training text is dseek's own prose (a few
// paragraphs in several languages), enough for a few hundred merges.
#include "tokenizer/default_vocab.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "tokenizer/default_chat_template.h"

namespace dseek {
namespace {

constexpr const char* kTrainingText =
    "Once upon a time there was a small engine that read numbers from a file and turned them into words. "
    "It was not fast at first, but it was careful: every number it read was checked, and every word it wrote "
    "could be traced back to the numbers that made it. The people who used it lived in many countries and "
    "spoke many languages, and they wanted their words to stay on their own machines. "
    "The engine learned to count bytes, to keep the cache small, and to answer questions while it was still "
    "reading the next one. When the model was large, it listened to the experts that mattered for each token "
    "and let the others rest. When the question was hard, it thought first and answered after. "
    "def main(args):\n    for i in range(10):\n        print(i * i)\n    return 0\n"
    "int add(int a, int b) { return a + b; }\n"
    "The quick brown fox jumps over the lazy dog. 1234567890 + 42 = 1234567932.\n"
    "Selamat pagi, apa khabar? Saya suka membaca buku di perpustakaan.\n"
    "Xin chào, hôm nay trời đẹp quá. Chúng tôi đang học tiếng Việt.\n"
    "สวัสดีครับ วันนี้อากาศดีมาก\n"
    "你好，今天天气很好。我们在学习中文。\n"
    "こんにちは、今日はいい天気ですね。\n";

constexpr const char* kSpecialTokens[] = {
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>", "<｜Assistant｜>",
    "<think>", "</think>", "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>",
    "<｜tool▁call▁end｜>", "<｜tool▁sep｜>", "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>",
    "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>",
};
constexpr int kNumSpecial = sizeof(kSpecialTokens) / sizeof(kSpecialTokens[0]);

// GPT-2's reversible byte -> printable code point map, as UTF-8 strings.
std::vector<std::string> byte_symbols() {
  std::vector<std::string> out(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + extra++);
    std::string s;
    if (cp < 0x80) s += static_cast<char>(cp);
    else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    out[static_cast<size_t>(b)] = s;
  }
  return out;
}

// Words for training: a space joins the following run of letters/marks;
// digits, punctuation and other whitespace stand alone (a coarse cousin of
// the deepseek-v3 pre-tokenizer, so learned merges rarely cross its splits).
std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(cur), cur.clear();
  };
  auto is_letter = [](unsigned char c) { return std::isalpha(c) || c >= 0x80; };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (is_letter(c)) {
      if (!cur.empty() && !is_letter(static_cast<unsigned char>(cur.back())) && cur != " ") flush();
      cur += static_cast<char>(c);
    } else if (c == ' ') {
      flush();
      cur = " ";
    } else {
      flush();
      words.emplace_back(1, static_cast<char>(c));
    }
  }
  flush();
  return words;
}

// DeepSeek's special tokens after everything else; BOS, EOS and PAD point at them.
void append_special_tokens(GeneratedVocab& v) {
  for (const char* s : kSpecialTokens) {
    const std::string t = s;
    v.tokens.push_back(t);
    v.token_types.push_back(t == "<think>" || t == "</think>" ? 4 : 3);
  }
  const int32_t first_special = static_cast<int32_t>(v.tokens.size()) - kNumSpecial;
  v.bos_id = first_special;
  v.eos_id = first_special + 1;
  v.pad_id = first_special + 2;
}

}  // namespace

int64_t generated_vocab_min_size() { return 256 + kNumSpecial; }

GeneratedVocab generate_vocab(int64_t n_vocab) {
  GeneratedVocab v;
  const auto sym = byte_symbols();
  for (const auto& s : sym) v.tokens.push_back(s), v.token_types.push_back(1);
  const int64_t n_merges_wanted = std::max<int64_t>(0, n_vocab - 256 - kNumSpecial);

  // Word frequency table, each word a sequence of symbols.
  std::map<std::string, int> freq;
  for (const auto& w : split_words(kTrainingText)) freq[w]++;
  std::vector<std::pair<std::vector<std::string>, int>> words;
  for (const auto& [w, n] : freq) {
    std::vector<std::string> s;
    for (unsigned char c : w) s.push_back(sym[c]);
    words.emplace_back(std::move(s), n);
  }
  // Greedy BPE: merge the most frequent adjacent pair (ties: smallest pair) until done.
  while (static_cast<int64_t>(v.merges.size()) < n_merges_wanted) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [s, n] : words)
      for (size_t i = 0; i + 1 < s.size(); ++i) pairs[{s[i], s[i + 1]}] += n;
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (best == pairs.end() || it->second > best->second) best = it;
    if (best == pairs.end() || best->second < 2) break;
    const auto [a, b] = best->first;
    v.merges.push_back(a + " " + b);
    v.tokens.push_back(a + b);
    v.token_types.push_back(1);
    for (auto& [s, n] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) out.push_back(a + b), ++i;
        else out.push_back(s[i]);
      }
      s = std::move(out);
    }
  }
  // Reserved placeholders up to the requested size, then the special tokens last.
  for (int64_t i = 0; static_cast<int64_t>(v.tokens.size()) < n_vocab - kNumSpecial; ++i) {
    v.tokens.push_back("<｜place▁holder▁no▁" + std::to_string(i) + "｜>");
    v.token_types.push_back(5);  // unused
  }
  append_special_tokens(v);
  return v;
}

GeneratedVocab vocab_with_specials(const TrainedBpe& bpe) {
  GeneratedVocab v;
  v.tokens = bpe.tokens;
  v.merges = bpe.merges;
  v.token_types.assign(v.tokens.size(), 1);
  append_special_tokens(v);
  return v;
}

void write_vocab_metadata(const GeneratedVocab& v, GgufWriter& w, const std::string& pre) {
  w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::str(pre));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(v.tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array(v.token_types));
  w.set("tokenizer.ggml.merges", GgufValue::string_array(v.merges));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(v.bos_id)));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(v.eos_id)));
  w.set("tokenizer.ggml.padding_token_id", GgufValue::u32(static_cast<uint32_t>(v.pad_id)));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
  w.set("tokenizer.chat_template", GgufValue::str(std::string(kDefaultChatTemplate)));
}

}  // namespace dseek
