// See pretokenizer.h. The regex texts are the split rules of the HF tokenizer.json
// files the names stand for (as listed in llama.cpp's llama-vocab.cpp for the
// same names); the behaviour of each Split follows HF tokenizers' pre_tokenizers/split.rs.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <map>

#include "tokenizer/byte_unicode.h"

namespace dseek {
namespace {

constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3 and Qwen2 differ only in how many digits group together.
std::string llama3_like(std::string_view digits) {
  return std::string(R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)") +
         std::string(digits) + R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

std::vector<SplitRule> isolated(std::initializer_list<std::string> regexes) {
  std::vector<SplitRule> r;
  for (const auto& x : regexes) r.push_back({x, SplitBehavior::kIsolated, false});
  return r;
}

// name -> rules. Built on each call (cheap, a handful of strings): no global state.
std::map<std::string, std::vector<SplitRule>, std::less<>> rule_tables() {
  std::map<std::string, std::vector<SplitRule>, std::less<>> t;
  // Cased-letter ranges written as code points: literal characters here could be
  // altered by Unicode normalisation of the source (several are singleton decompositions).
  t["deepseek-llm"] = isolated({
      "[\r\n]",
      "\\s?[\\x{41}-\\x{5A}\\x{61}-\\x{7A}\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}-\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}-\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}-\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$",
      "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
      "\\p{N}+",
  });
  t["deepseek-coder"] = isolated({"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+", "\\p{N}"});
  t["deepseek-v3"] = isolated({
      "\\p{N}{1,3}",
      "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",  // same text as tokenizer.json
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
      " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
  });
  t["llama-bpe"] = isolated({llama3_like("\\p{N}{1,3}")});
  t["qwen2"] = isolated({llama3_like("\\p{N}")});
  t["deepseek-r1-qwen"] = t["qwen2"];
  t["gpt2"] = isolated({std::string(kGpt2Regex)});
  t["default"] = t["gpt2"];
  return t;
}

struct Segment {
  uint32_t begin, end;
  bool match;
};

// Unicode White_Space, which HF tokenizers' regex engine (Oniguruma) means by \s.
// PCRE2's UCP \s leaves out U+0085 (NEL); JavaScript's adds U+FEFF.
constexpr std::string_view kWhiteSpace =
    "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

// Rewrites \s / \S to the explicit White_Space set, inside and outside classes.
Result<std::string> with_hf_whitespace(std::string_view re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char e = re[++i];
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (e == 'S') {
        if (in_class) return Status::error("\\S inside a character class is not supported: " + std::string(re));
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];  // literal ']' first in a class
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};

}  // namespace

struct PreTokenizer::Rule {
  // Two compilations: `any` accepts invalid UTF-8 subjects (MATCH_INVALID_UTF, which
  // makes the JIT check every character); `valid` is for text already validated.
  std::unique_ptr<pcre2_code, CodeDeleter> any, valid;
  bool jit = false;
  // ASCII bytes a match can start with (conservative). Lets the scan skip, e.g.,
  // every letter when looking for \p{N}: PCRE2 builds no start bitmap for
  // Unicode properties. Unused (all true) for patterns with look-behind.
  std::array<bool, 128> ascii_start{};
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
};

struct PreTokenizer::Scratch::Impl {
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mctx = nullptr;  // no match/depth/heap limits beyond memory
  std::vector<Span> a, b;
  std::vector<Segment> segs;
  Impl() : md(pcre2_match_data_create(1, nullptr)), mctx(pcre2_match_context_create(nullptr)) {
    pcre2_set_match_limit(mctx, ~uint32_t{0});
    pcre2_set_depth_limit(mctx, ~uint32_t{0});
    pcre2_set_heap_limit(mctx, ~uint32_t{0});
  }
  ~Impl() {
    pcre2_match_context_free(mctx);
    pcre2_match_data_free(md);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

PreTokenizer::Scratch::Scratch() : impl_(std::make_unique<Impl>()) {}
PreTokenizer::Scratch::~Scratch() = default;
PreTokenizer::Scratch::Scratch(Scratch&&) noexcept = default;
PreTokenizer::Scratch& PreTokenizer::Scratch::operator=(Scratch&&) noexcept = default;

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

std::string_view gpt2_split_regex() { return kGpt2Regex; }

std::vector<std::string> pretokenizer_names() {
  std::vector<std::string> names;
  for (const auto& [k, v] : rule_tables()) names.push_back(k);
  return names;
}

Result<PreTokenizerSpec> pretokenizer_spec(std::string_view name) {
  auto tables = rule_tables();
  auto it = tables.find(name);
  if (it == tables.end()) {
    std::string known;
    for (const auto& [k, v] : tables) known += (known.empty() ? "" : ", ") + k;
    return Status::error("unknown pre-tokenizer '" + std::string(name) + "' (known: " + known + ")");
  }
  return PreTokenizerSpec{.name = it->first, .rules = it->second};
}

namespace {

// For each ASCII byte: can a match start with it? Tested by matching the one-byte
// string anchored with soft partial matching (a partial match = "maybe").
std::array<bool, 128> ascii_start_bytes(const pcre2_code* code) {
  std::array<bool, 128> can;
  can.fill(true);
  uint32_t lookbehind = 1;
  if (pcre2_pattern_info(code, PCRE2_INFO_MAXLOOKBEHIND, &lookbehind) != 0 || lookbehind != 0) return can;
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  for (int c = 0; c < 128; ++c) {
    const auto ch = static_cast<PCRE2_UCHAR>(c);
    const int rc = pcre2_match(code, &ch, 1, 0, PCRE2_ANCHORED | PCRE2_PARTIAL_SOFT, md, nullptr);
    can[c] = rc >= 0 || rc == PCRE2_ERROR_PARTIAL;
  }
  pcre2_match_data_free(md);
  return can;
}

}  // namespace

Result<PreTokenizer> PreTokenizer::compile(const PreTokenizerSpec& spec) {
  PreTokenizer p;
  p.spec_ = spec;
  for (const auto& r : spec.rules) {
    auto re = with_hf_whitespace(r.regex);
    if (!re.ok()) return Status::error("pre-tokenizer '" + spec.name + "': " + re.message());
    Rule rule;
    for (const bool tolerant : {true, false}) {
      int err = 0;
      PCRE2_SIZE err_off = 0;
      // MATCH_INVALID_UTF: invalid UTF-8 in the subject never matches but is no error,
      // so arbitrary bytes flow through and are byte-encoded faithfully.
      const uint32_t opts = PCRE2_UTF | PCRE2_UCP | (tolerant ? PCRE2_MATCH_INVALID_UTF : 0u);
      pcre2_code* code =
          pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re->data()), re->size(), opts, &err, &err_off, nullptr);
      if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return Status::error("pre-tokenizer '" + spec.name + "': bad regex at offset " + std::to_string(err_off) +
                             ": " + reinterpret_cast<const char*>(msg) + ": " + r.regex);
      }
      (tolerant ? rule.any : rule.valid).reset(code);
      rule.jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    }
    rule.ascii_start = ascii_start_bytes(rule.valid.get());
    rule.behavior = r.behavior;
    rule.invert = r.invert;
    p.rules_.push_back(std::move(rule));
  }
  return p;
}

namespace {

// HF split.rs: turns (segment, is_match) into pieces per behaviour.
void emit_by_behavior(SplitBehavior behavior, const std::vector<Segment>& segs, std::vector<Span>& out) {
  auto push = [&](uint32_t b, uint32_t e) {
    if (e > b) out.push_back({b, e - b});
  };
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& s : segs) push(s.begin, s.end);
      return;
    case SplitBehavior::kRemoved:
      for (const auto& s : segs)
        if (!s.match) push(s.begin, s.end);
      return;
    case SplitBehavior::kMergedWithPrevious:
    case SplitBehavior::kContiguous: {
      const bool contiguous = behavior == SplitBehavior::kContiguous;
      const size_t first = out.size();
      bool prev_match = false;
      for (const auto& s : segs) {
        const bool merge = contiguous ? (s.match == prev_match) : (s.match && !prev_match);
        if (merge && out.size() > first) out.back().len = s.end - out.back().begin;
        else push(s.begin, s.end);
        prev_match = s.match;
      }
      return;
    }
    case SplitBehavior::kMergedWithNext: {
      const size_t first = out.size();
      bool prev_match = false;
      for (size_t i = segs.size(); i-- > 0;) {
        const auto& s = segs[i];
        if (s.match && !prev_match && out.size() > first) {
          auto& last = out.back();
          last.len = last.begin + last.len - s.begin;
          last.begin = s.begin;
        } else {
          push(s.begin, s.end);
        }
        prev_match = s.match;
      }
      std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
      return;
    }
  }
}

}  // namespace

void PreTokenizer::apply_rule(const Rule& rule, std::string_view text, bool valid_utf8, const std::vector<Span>& in,
                              std::vector<Span>& out, Scratch& scratch) const {
  auto& s = *scratch.impl_;
  out.clear();
  for (const Span& piece : in) {
    // Each piece is its own subject: anchors and look-arounds stop at its edges, as in HF.
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
    s.segs.clear();
    uint32_t pos = 0, gap_start = 0;
    while (pos < piece.len) {
      while (pos < piece.len && subject[pos] < 0x80 && !rule.ascii_start[subject[pos]]) ++pos;
      if (pos >= piece.len) break;
      const pcre2_code* code = valid_utf8 ? rule.valid.get() : rule.any.get();
      int rc = rule.jit ? pcre2_jit_match(code, subject, piece.len, pos, 0, s.md, nullptr) : PCRE2_ERROR_JIT_BADOPTION;
      // Not JIT-compiled, or the JIT ran out of stack (huge runs): the interpreter, with
      // its heap-based backtracking, gives the same answer.
      if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
        rc = pcre2_match(code, subject, piece.len, pos, valid_utf8 ? PCRE2_NO_UTF_CHECK : 0u, s.md, s.mctx);
      assert(rc >= 0 || rc == PCRE2_ERROR_NOMATCH);  // a limit hit here would silently change the split
      if (rc < 0) break;
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.md);
      const auto mb = static_cast<uint32_t>(ov[0]), me = static_cast<uint32_t>(ov[1]);
      if (me == mb) {  // empty match: step over one character and search again
        size_t len = 0;
        decode_utf8(std::string_view(text.data() + piece.begin, piece.len), mb, len);
        pos = mb + static_cast<uint32_t>(len);
        continue;
      }
      if (mb > gap_start) s.segs.push_back({piece.begin + gap_start, piece.begin + mb, false});
      s.segs.push_back({piece.begin + mb, piece.begin + me, true});
      pos = gap_start = me;
    }
    if (piece.len > gap_start) s.segs.push_back({piece.begin + gap_start, piece.begin + piece.len, false});
    if (rule.invert)
      for (auto& g : s.segs) g.match = !g.match;
    emit_by_behavior(rule.behavior, s.segs, out);
  }
}

void PreTokenizer::split(std::string_view text, std::vector<Span>& out, Scratch& scratch) const {
  auto& s = *scratch.impl_;
  out.clear();
  if (text.empty()) return;
  if (rules_.empty()) {
    out.push_back({0, static_cast<uint32_t>(text.size())});
    return;
  }
  s.a.assign(1, Span{0, static_cast<uint32_t>(text.size())});
  const bool valid = is_valid_utf8(text);
  for (size_t i = 0; i < rules_.size(); ++i) {
    std::vector<Span>& dst = i + 1 == rules_.size() ? out : s.b;
    apply_rule(rules_[i], text, valid, s.a, dst, scratch);
    if (&dst == &s.b) std::swap(s.a, s.b);
  }
}

}  // namespace dseek
