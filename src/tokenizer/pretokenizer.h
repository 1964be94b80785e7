// Pre-tokenization as data: a pre-tokenizer is an ordered list of split rules
// (regex + HF `Split` behaviour), applied in sequence to every piece the previous
// rule produced, exactly like HF tokenizers' Sequence[Split...]. Named tables
// cover the GGUF `tokenizer.ggml.pre` names; tokenizer.json configs map onto the
// same structure. Regexes run on PCRE2 (UTF + UCP, JIT when available). Not BPE.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dseek {

// HF `SplitDelimiterBehavior`.
enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct SplitRule {
  std::string regex;  // PCRE2 syntax
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // split on what does NOT match
  bool operator==(const SplitRule&) const = default;
};

struct PreTokenizerSpec {
  std::string name;  // table name, or "custom" for a tokenizer.json config
  std::vector<SplitRule> rules;
  bool add_prefix_space = false;  // ByteLevel(add_prefix_space): prepend ' ' unless text starts with one
};

// The rule table for a llama.cpp pre-tokenizer name (deepseek-llm, deepseek-coder,
// deepseek-v3, qwen2, deepseek-r1-qwen, llama-bpe, gpt2, default). Unknown -> error.
Result<PreTokenizerSpec> pretokenizer_spec(std::string_view name);
// All names pretokenizer_spec accepts.
std::vector<std::string> pretokenizer_names();
// The regex HF's ByteLevel(use_regex=true) applies (GPT-2's).
std::string_view gpt2_split_regex();

// Piece of the input: byte offset and length.
struct Span {
  uint32_t begin = 0, len = 0;
};

class PreTokenizer {
 public:
  static Result<PreTokenizer> compile(const PreTokenizerSpec& spec);
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Per-call buffers (PCRE2 match data, span vectors); reuse across calls to
  // avoid allocation. Not shared between threads.
  class Scratch {
   public:
    Scratch();
    ~Scratch();
    Scratch(Scratch&&) noexcept;
    Scratch& operator=(Scratch&&) noexcept;

   private:
    friend class PreTokenizer;
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };

  // Splits `text` into pieces (spans into `text`, in order, no overlap).
  // Bytes that are not valid UTF-8 are never matched by a rule, so they stay
  // in the gaps between matches and are still covered by the output.
  void split(std::string_view text, std::vector<Span>& out, Scratch& scratch) const;
  const PreTokenizerSpec& spec() const { return spec_; }

 private:
  struct Rule;
  PreTokenizer() = default;
  void apply_rule(const Rule& rule, std::string_view text, bool valid_utf8, const std::vector<Span>& in,
                  std::vector<Span>& out, Scratch& scratch) const;
  PreTokenizerSpec spec_;
  std::vector<Rule> rules_;
};

}  // namespace dseek
