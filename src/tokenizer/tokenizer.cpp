// See tokenizer.h. Encode = added-token split -> (BPE) pre-tokenize + cached BPE
// per pre-token | (SPM) whitespace escape + SentencePiece merges. Decode =
// concatenation of per-token bytes precomputed at load.
#include "tokenizer/tokenizer.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "format/gguf.h"
#include "tokenizer/byte_unicode.h"

namespace dseek {
namespace {

constexpr size_t kCacheMinSlots = 1 << 10, kCacheMaxSlots = 1 << 17;  // powers of two; at most half used

// 64-bit hash of a short byte string (8 bytes per step, multiply-xorshift).
uint64_t piece_hash(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  uint64_t w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  h = (h ^ w) * 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}
constexpr size_t kCacheMaxPieceBytes = 64;
constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581

TokenType type_of(const TokenizerSpec& s, size_t id) {
  return id < s.types.size() ? static_cast<TokenType>(s.types[id]) : TokenType::kNormal;
}

// Bytes a token stands for when decoded.
std::string decoded_bytes(const TokenizerSpec& s, size_t id) {
  const std::string& t = s.tokens[id];
  const TokenType type = type_of(s, id);
  if (type == TokenType::kControl || type == TokenType::kUserDefined || type == TokenType::kUnknown) {
    if (s.kind == TokenizerKind::kSpm && type == TokenType::kUserDefined) {
      std::string out;  // SPM user pieces use U+2581 for spaces too
      for (size_t i = 0; i < t.size();)
        if (t.compare(i, kSpmSpace.size(), kSpmSpace) == 0) out += ' ', i += kSpmSpace.size();
        else out += t[i++];
      return out;
    }
    return t;
  }
  if (s.kind == TokenizerKind::kSpm) {
    unsigned v = 0;
    if (type == TokenType::kByte && t.size() == 6 && std::sscanf(t.c_str(), "<0x%02X>", &v) == 1)
      return std::string(1, static_cast<char>(v));
    std::string out;
    for (size_t i = 0; i < t.size();)
      if (t.compare(i, kSpmSpace.size(), kSpmSpace) == 0) out += ' ', i += kSpmSpace.size();
      else out += t[i++];
    return out;
  }
  std::string out;
  if (!unicode_to_bytes(t, out)) return t;  // not a byte-level spelling: keep the text
  return out;
}

// convert_hf_to_gguf.py's does_token_look_special, plus <think>-style tags:
// tokens that act as control tokens even where tokenizer.json says special=false.
bool looks_special(std::string_view t) {
  auto wraps = [&](std::string_view open, std::string_view close) {
    return t.size() > open.size() + close.size() && t.substr(0, open.size()) == open &&
           t.substr(t.size() - close.size()) == close;
  };
  if (wraps("<|", "|>") || wraps("<\xEF\xBD\x9C", "\xEF\xBD\x9C>")) return true;
  if (!wraps("<", ">")) return false;
  const size_t start = t[1] == '/' ? 2 : 1;  // <think> / </think>
  if (start + 1 >= t.size()) return false;
  for (size_t i = start; i + 1 < t.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(t[i])) && t[i] != '_') return false;
  return true;
}

}  // namespace

void Tokenizer::grow_cache(Scratch& s) {
  std::vector<Scratch::CacheEntry> bigger(s.cache.size() * 2);
  const size_t mask = bigger.size() - 1;
  for (const auto& e : s.cache) {
    if (!e.used) continue;
    size_t i = static_cast<size_t>(e.hash) & mask;
    while (bigger[i].used) i = (i + 1) & mask;
    bigger[i] = e;
  }
  s.cache.swap(bigger);
}

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;
Tokenizer::Scratch::Scratch() = default;
Tokenizer::Scratch::~Scratch() = default;

namespace {

Status check_spec(const TokenizerSpec& spec, const std::string& where) {
  const size_t n = spec.tokens.size();
  if (n == 0) return Status::error(where + ": empty vocabulary");
  if (!spec.types.empty() && spec.types.size() != n)
    return Status::error(where + ": " + std::to_string(spec.types.size()) + " token types for " + std::to_string(n) +
                         " tokens");
  for (int32_t id : {spec.bos_id, spec.eos_id, spec.unk_id})
    if (id >= static_cast<int64_t>(n)) return Status::error(where + ": special token id " + std::to_string(id) +
                                                            " is outside the vocabulary of " + std::to_string(n));
  return ok_status();
}

// Added tokens: from the token types when the spec lists none; each marked
// special when it looks like a control token, and its type set to match.
Status settle_added_tokens(TokenizerSpec& spec, const std::string& where) {
  const size_t n = spec.tokens.size();
  if (spec.added.empty()) {
    for (size_t i = 0; i < n; ++i) {
      const TokenType ty = type_of(spec, i);
      if (ty == TokenType::kControl || ty == TokenType::kUserDefined)
        spec.added.push_back({.id = static_cast<int32_t>(i), .content = spec.tokens[i],
                              .special = ty == TokenType::kControl});
    }
  }
  for (auto& a : spec.added) {
    a.special = a.special || looks_special(a.content);
    if (a.id < 0 || static_cast<size_t>(a.id) >= n)
      return Status::error(where + ": added token '" + a.content + "' has id " + std::to_string(a.id) +
                           " outside the vocabulary");
    if (spec.types.empty()) spec.types.assign(n, static_cast<int32_t>(TokenType::kNormal));
    spec.types[static_cast<size_t>(a.id)] =
        static_cast<int32_t>(a.special ? TokenType::kControl : TokenType::kUserDefined);
  }
  return ok_status();
}

}  // namespace

Status Tokenizer::build_model(TokenizerSpec& spec, const std::string& where) {
  const size_t n = spec.tokens.size();
  if (spec.kind == TokenizerKind::kBpe) {
    auto pre = PreTokenizer::compile(spec.pre);
    if (!pre.ok()) return Status::error(where + ": " + pre.message());
    pre_ = std::make_unique<PreTokenizer>(std::move(*pre));
    auto bpe = BpeModel::build(index_, spec.merges, spec.ignore_merges);
    if (!bpe.ok()) return Status::error(where + ": " + bpe.message());
    bpe_ = std::make_unique<BpeModel>(std::move(*bpe));
    pre_name_ = spec.pre.name;
    return ok_status();
  }
  if (spec.scores.size() != n)
    return Status::error(where + ": SentencePiece vocabulary needs one score per token (" +
                         std::to_string(spec.scores.size()) + " scores, " + std::to_string(n) + " tokens)");
  std::vector<uint8_t> mergeable(n);
  for (size_t i = 0; i < n; ++i) {
    const TokenType ty = type_of(spec, i);
    mergeable[i] = ty == TokenType::kNormal || ty == TokenType::kUserDefined;
  }
  auto spm = SpmModel::build(index_, std::move(spec.scores), std::move(mergeable), spec.unk_id);
  if (!spm.ok()) return Status::error(where + ": " + spm.message());
  spm_ = std::make_unique<SpmModel>(std::move(*spm));
  return ok_status();
}

Result<Tokenizer> Tokenizer::from_spec(TokenizerSpec spec) {
  const std::string where = spec.source.empty() ? "tokenizer" : spec.source;
  if (Status st = check_spec(spec, where); !st.ok()) return st;
  const size_t n = spec.tokens.size();
  Tokenizer t;
  t.kind_ = spec.kind;
  t.index_.reserve(n);
  for (size_t i = 0; i < n; ++i) t.index_.emplace(spec.tokens[i], static_cast<int32_t>(i));
  if (Status st = settle_added_tokens(spec, where); !st.ok()) return st;
  t.decoded_.resize(n);
  t.control_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    t.decoded_[i] = decoded_bytes(spec, i);
    t.control_[i] = type_of(spec, i) == TokenType::kControl;
  }
  if (Status st = t.build_model(spec, where); !st.ok()) return st;
  std::vector<AddedToken> ordinary;
  for (const auto& a : spec.added)
    if (!a.special) ordinary.push_back(a);
  t.added_ordinary_ = AddedTokenMatcher(std::move(ordinary));
  t.added_ = AddedTokenMatcher(std::move(spec.added));
  t.tokens_ = std::move(spec.tokens);
  t.bos_id_ = spec.bos_id;
  t.eos_id_ = spec.eos_id;
  t.add_bos_ = spec.add_bos;
  t.add_space_prefix_ = spec.add_space_prefix;
  t.add_prefix_space_ = spec.pre.add_prefix_space;
  return t;
}

void Tokenizer::encode_plain(std::string_view text, bool dummy_prefix, Scratch& s, std::vector<int32_t>& out) const {
  if (kind_ == TokenizerKind::kSpm) {
    s.buf.clear();
    if (dummy_prefix && add_space_prefix_) s.buf += kSpmSpace;
    for (char c : text)
      if (c == ' ') s.buf += kSpmSpace;
      else s.buf += c;
    spm_->encode(s.buf, index_, out, s.spm);
    return;
  }
  if (add_prefix_space_ && !text.empty() && text[0] != ' ') {
    s.buf.assign(1, ' ');
    s.buf.append(text);
    text = s.buf;
  }
  pre_->split(text, s.spans, s.pre);
  for (const Span& sp : s.spans) {
    const std::string_view piece = text.substr(sp.begin, sp.len);
    if (piece.size() > kCacheMaxPieceBytes) {
      bpe_->encode(piece, index_, out, s.bpe);
      continue;
    }
    encode_cached(piece, s, out);
  }
}

// BPE of one pre-token through the scratch's cache: repeated words (most of any
// text) cost one hash probe instead of a BPE run.
void Tokenizer::encode_cached(std::string_view piece, Scratch& s, std::vector<int32_t>& out) const {
  const uint64_t h = piece_hash(piece);
  if (s.cache.empty()) s.cache.resize(kCacheMinSlots);
  const size_t mask = s.cache.size() - 1;
  size_t slot = static_cast<size_t>(h) & mask;
  for (;; slot = (slot + 1) & mask) {
    const auto& e = s.cache[slot];
    if (!e.used) break;
    if (e.hash == h && e.key_len == piece.size() &&
        std::memcmp(s.cache_keys.data() + e.key_off, piece.data(), piece.size()) == 0)
      break;
  }
  if (s.cache[slot].used) {
    const auto& e = s.cache[slot];
    out.insert(out.end(), s.cache_ids.begin() + e.ids_off, s.cache_ids.begin() + e.ids_off + e.n_ids);
    return;
  }
  const size_t before = out.size();
  bpe_->encode(piece, index_, out, s.bpe);
  if (out.size() - before > 0xFFFF) return;
  if (s.cache_used + 1 > s.cache.size() / 2) {
    if (s.cache.size() >= kCacheMaxSlots) {  // full: start over (bounded memory)
      std::fill(s.cache.begin(), s.cache.end(), Scratch::CacheEntry{});
      s.cache_keys.clear();
      s.cache_ids.clear();
      s.cache_used = 0;
    } else {
      grow_cache(s);
    }
    const size_t m = s.cache.size() - 1;
    for (slot = static_cast<size_t>(h) & m; s.cache[slot].used; slot = (slot + 1) & m) {}
  }
  s.cache[slot] = {.hash = h,
                   .key_off = static_cast<uint32_t>(s.cache_keys.size()),
                   .ids_off = static_cast<uint32_t>(s.cache_ids.size()),
                   .key_len = static_cast<uint16_t>(piece.size()),
                   .n_ids = static_cast<uint16_t>(out.size() - before),
                   .used = true};
  ++s.cache_used;
  s.cache_keys.append(piece);
  s.cache_ids.insert(s.cache_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
}

void Tokenizer::encode(std::string_view text, const EncodeOptions& opts, Scratch& s, std::vector<int32_t>& out) const {
  out.clear();
  if (opts.add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  const AddedTokenMatcher& matcher = opts.parse_special ? added_ : added_ordinary_;
  if (matcher.empty()) {
    encode_plain(text, true, s, out);
    return;
  }
  matcher.split(text, s.pieces);
  bool after_special = true;  // llama.cpp: the SPM dummy prefix follows the start and every added token
  for (const TextPiece& p : s.pieces) {
    if (p.id >= 0) {
      out.push_back(p.id);
      after_special = true;
    } else {
      encode_plain(text.substr(p.begin, p.len), after_special, s, out);
      after_special = false;
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& opts) const {
  Scratch s;
  std::vector<int32_t> out;
  encode(text, opts, s, out);
  return out;
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < decoded_.size() ? std::string_view(decoded_[id]) : std::string_view();
}

bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < control_.size() && control_[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& opts) const {
  std::string out;
  bool at_start = strips_leading_space();
  for (int32_t id : ids) {
    if (opts.skip_special && is_control(id)) continue;
    std::string_view b = token_bytes(id);
    if (at_start && !is_control(id) && !b.empty()) {
      if (b[0] == ' ') b.remove_prefix(1);
      at_start = false;
    }
    out += b;
  }
  return out;
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < tokens_.size() ? std::string_view(tokens_[id]) : std::string_view();
}

std::optional<int32_t> Tokenizer::token_id(std::string_view text) const {
  auto it = index_.find(text);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

TokenizerInfo Tokenizer::info() const {
  return {.model = kind_ == TokenizerKind::kBpe ? "gpt2" : "llama",
          .pre = pre_name_,
          .n_tokens = tokens_.size(),
          .n_merges = bpe_ ? bpe_->n_merges() : 0,
          .n_added = added_.tokens().size(),
          .bos_id = bos_id_,
          .eos_id = eos_id_,
          .add_bos = add_bos_};
}

Result<Tokenizer> Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path);
    if (fs::exists(dir / "tokenizer.json", ec)) return from_hf((dir / "tokenizer.json").string());
    std::vector<fs::path> ggufs;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".gguf") ggufs.push_back(e.path());
    if (ggufs.size() == 1) return load(ggufs[0].string());
    return Status::error(path + ": directory has no tokenizer.json and " +
                         (ggufs.empty() ? std::string("no .gguf file") : std::string("several .gguf files")));
  }
  if (!fs::exists(path, ec)) return Status::error(path + ": no such file or directory");
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) return from_hf(path);
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  return from_gguf(*f);
}

}  // namespace dseek
