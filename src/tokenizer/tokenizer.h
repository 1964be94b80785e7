// The public tokenizer: text <-> token ids for byte-level BPE ("gpt2" GGUF vocab,
// HF tokenizer.json BPE) and SentencePiece-style ("llama" GGUF vocab) models.
// Loaded from GGUF metadata, a tokenizer.json (+ tokenizer_config.json), or a
// model directory; immutable after load and safe to share across threads.
// Chat templates live in tokenizer/chat_template/, not here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"

namespace dseek {

class GgufFile;

enum class TokenizerKind { kBpe, kSpm };

// GGUF tokenizer.ggml.token_type values.
enum class TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// Everything a tokenizer is built from; the loaders fill it, tests and the
// fuzzer may build one in memory.
struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::kBpe;
  std::vector<std::string> tokens;  // id -> spelling (byte-level for BPE, U+2581 spaces for SPM)
  std::vector<int32_t> types;       // TokenType per id; empty = all normal
  std::vector<float> scores;        // SPM merge priority per id
  std::vector<std::pair<std::string, std::string>> merges;  // BPE, rank order
  std::vector<AddedToken> added;    // matched in raw text; empty = derived from types 3 and 4
  PreTokenizerSpec pre;             // BPE only
  int32_t bos_id = -1, eos_id = -1, unk_id = -1;
  bool add_bos = false;
  bool add_space_prefix = true;  // SPM dummy prefix
  bool ignore_merges = false;    // HF BPE ignore_merges
  std::string source;            // file name, for messages
};

struct EncodeOptions {
  // true: added/special-token text becomes the token. false: special tokens'
  // text is encoded as plain text (the server's guard against prompt injection);
  // ordinary added tokens (deepseek-coder's "ü") still match, as in llama.cpp.
  // "Special" = flagged special, or spelled like a control token (<|x|>, <｜x｜>,
  // <think>-style tags): DeepSeek-V3 marks <｜User｜> and the tool tokens non-special.
  bool parse_special = true;
  bool add_bos = false;
};

struct DecodeOptions {
  bool skip_special = false;  // drop control tokens (BOS, EOS, ...) instead of writing their text
};

struct TokenizerInfo {
  std::string model;  // "gpt2" (byte-level BPE) or "llama" (SentencePiece)
  std::string pre;    // pre-tokenizer table name, "custom" for an unnamed tokenizer.json config
  size_t n_tokens = 0, n_merges = 0, n_added = 0;
  int32_t bos_id = -1, eos_id = -1;
  bool add_bos = false;
};

class Tokenizer {
 public:
  static Result<Tokenizer> from_spec(TokenizerSpec spec);
  static Result<Tokenizer> from_gguf(const GgufFile& f);
  // tokenizer.json; tokenizer_config.json beside it (if present) gives BOS/EOS/add_bos.
  static Result<Tokenizer> from_hf(const std::string& tokenizer_json_path);
  // A GGUF file, a tokenizer.json, or a directory holding either.
  static Result<Tokenizer> load(const std::string& path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Reusable per-thread buffers and a bounded cache of pre-token -> ids.
  class Scratch;
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opts = {}) const;
  void encode(std::string_view text, const EncodeOptions& opts, Scratch& scratch, std::vector<int32_t>& out) const;

  // Raw bytes (not necessarily valid UTF-8 for arbitrary id sequences).
  std::string decode(std::span<const int32_t> ids, const DecodeOptions& opts = {}) const;
  // Bytes one token contributes (before the SPM leading-space rule); empty if out of range.
  std::string_view token_bytes(int32_t id) const;
  // SPM: decoding strips the dummy-prefix space from the first text piece.
  bool strips_leading_space() const { return kind_ == TokenizerKind::kSpm && add_space_prefix_; }
  bool is_control(int32_t id) const;

  std::string_view token_text(int32_t id) const;  // the vocabulary spelling
  std::optional<int32_t> token_id(std::string_view text) const;
  size_t vocab_size() const { return tokens_.size(); }
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  bool add_bos() const { return add_bos_; }
  TokenizerKind kind() const { return kind_; }
  TokenizerInfo info() const;
  const std::vector<AddedToken>& added_tokens() const { return added_.tokens(); }

 private:
  Tokenizer() = default;
  static Result<Tokenizer> from_hf_json(const std::string& path);
  // from_spec's last step: the pre-tokenizer and BPE merges, or the SentencePiece scores.
  Status build_model(TokenizerSpec& spec, const std::string& where);
  void encode_plain(std::string_view text, bool dummy_prefix, Scratch& s, std::vector<int32_t>& out) const;
  void encode_cached(std::string_view piece, Scratch& s, std::vector<int32_t>& out) const;
  static void grow_cache(Scratch& s);  // doubles the pre-token cache table

  TokenizerKind kind_ = TokenizerKind::kBpe;
  std::vector<std::string> tokens_;
  std::vector<std::string> decoded_;  // id -> bytes
  std::vector<uint8_t> control_;      // id -> is a control token
  TokenIndex index_;
  AddedTokenMatcher added_;          // all added tokens
  AddedTokenMatcher added_ordinary_; // only the non-special ones (parse_special = false)
  std::unique_ptr<PreTokenizer> pre_;
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<SpmModel> spm_;
  int32_t bos_id_ = -1, eos_id_ = -1;
  bool add_bos_ = false, add_space_prefix_ = true, add_prefix_space_ = false;
  std::string pre_name_;
};

class Tokenizer::Scratch {
 public:
  Scratch();
  ~Scratch();

 private:
  friend class Tokenizer;
  std::vector<TextPiece> pieces;
  std::vector<Span> spans;
  PreTokenizer::Scratch pre;
  BpeModel::Scratch bpe;
  SpmModel::Scratch spm;
  std::string buf;
  // Pre-token -> ids cache: open addressing over a byte arena (no allocation per
  // entry). Bounded: cleared when half full.
  struct CacheEntry {
    uint64_t hash = 0;
    uint32_t key_off = 0, ids_off = 0;
    uint16_t key_len = 0, n_ids = 0;
    bool used = false;
  };
  std::vector<CacheEntry> cache;
  std::string cache_keys;
  std::vector<int32_t> cache_ids;
  size_t cache_used = 0;
};

}  // namespace dseek
