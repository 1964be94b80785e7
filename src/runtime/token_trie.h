// Fast token masks for grammar-constrained sampling. A TokenTrie holds the
// vocabulary's byte strings as a trie, so one depth-first walk steps a
// GrammarState through each shared prefix once and drops whole subtrees at
// the first byte the grammar refuses. GrammarMasker caches the resulting
// allowed-token bit sets by state (GrammarState::key()): inside a free string,
// between tokens, or in a number the state repeats, so most tokens are masked
// from the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/json_schema_checker.h"

namespace dseek {

class Tokenizer;

class TokenTrie {
 public:
  // token_bytes[id]: the token's bytes; empty ones are left out.
  explicit TokenTrie(const std::vector<std::string>& token_bytes);

  size_t vocab_size() const { return n_vocab_; }
  // Sets bit id of `allowed` (vocab_size() bits) for every token whose bytes
  // `state` accepts; returns how many.
  size_t allowed(const GrammarState& state, std::vector<uint64_t>& allowed) const;

 private:
  struct Edge {
    uint8_t byte;
    uint32_t child;
  };
  struct Node {
    uint32_t first_edge = 0, n_edges = 0, first_token = 0, n_tokens = 0;
  };
  uint32_t build(const std::vector<std::string>& bytes, std::vector<int32_t>& ids, size_t lo, size_t hi, size_t depth);
  size_t visit(uint32_t node, size_t depth, std::vector<GrammarState>& slots, std::vector<uint64_t>& allowed) const;

  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::vector<int32_t> tokens_;
  size_t n_vocab_ = 0, max_depth_ = 0;
};

// What a vocabulary offers a grammar: its text tokens as a trie, and its
// control tokens (chat markup), which only raw grammar text may take.
struct ConstraintVocab {
  explicit ConstraintVocab(const Tokenizer& tok);
  // For tests: token texts, and which ids are control tokens.
  ConstraintVocab(const std::vector<std::string>& text, const std::vector<bool>& control);

  TokenTrie trie;  // text tokens
  std::vector<std::pair<int32_t, std::string>> control;
  std::vector<std::string> token_text;  // every token's text, control tokens included (for feeding)
  std::vector<bool> is_control;
};

// Masks logits by a grammar; shared by a request's choices (thread-safe).
class GrammarMasker {
 public:
  static constexpr size_t kMaxCached = 512;

  GrammarMasker(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const ConstraintVocab> vocab);

  const Grammar& grammar() const { return *grammar_; }
  GrammarState initial() const { return GrammarState(*grammar_); }
  // Feeds a sampled token to `state` (false: the grammar refuses it).
  bool feed(GrammarState& state, int32_t token) const;
  // logits[i] = -inf for each token the state refuses. End tokens stay
  // allowed only when the text is complete, or when nothing else is (so that
  // generation stops rather than hangs).
  void mask(const GrammarState& state, std::span<const int32_t> end_tokens, float* logits);

 private:
  struct Mask {
    std::vector<uint64_t> bits;
    size_t count = 0;
  };
  std::shared_ptr<const Mask> lookup(const GrammarState& state);

  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const ConstraintVocab> vocab_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Mask>> cache_;
};

}  // namespace dseek
