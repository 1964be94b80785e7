// TokenTrie: built once per vocabulary from the token ids sorted by bytes
// (each node's edges are contiguous); GrammarMasker: trie walk + cache.
#include "runtime/token_trie.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "tokenizer/tokenizer.h"

namespace dseek {

TokenTrie::TokenTrie(const std::vector<std::string>& token_bytes) : n_vocab_(token_bytes.size()) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < token_bytes.size(); ++i)
    if (!token_bytes[i].empty()) ids.push_back(static_cast<int32_t>(i));
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return token_bytes[static_cast<size_t>(a)] < token_bytes[static_cast<size_t>(b)]; });
  nodes_.reserve(ids.size() * 2 + 1);
  build(token_bytes, ids, 0, ids.size(), 0);
}

// ids[lo, hi) share their first `depth` bytes; the ones of exactly that length sort first.
uint32_t TokenTrie::build(const std::vector<std::string>& bytes, std::vector<int32_t>& ids, size_t lo, size_t hi, size_t depth) {
  max_depth_ = std::max(max_depth_, depth);
  const uint32_t me = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(Node{});
  auto text = [&](size_t i) -> const std::string& { return bytes[static_cast<size_t>(ids[i])]; };
  size_t i = lo;
  nodes_[me].first_token = static_cast<uint32_t>(tokens_.size());
  for (; i < hi && text(i).size() == depth; ++i) tokens_.push_back(ids[i]);
  nodes_[me].n_tokens = static_cast<uint32_t>(tokens_.size()) - nodes_[me].first_token;
  std::vector<std::pair<size_t, size_t>> groups;  // runs of ids with the same next byte
  for (size_t j = i; j < hi;) {
    size_t k = j + 1;
    while (k < hi && text(k)[depth] == text(j)[depth]) ++k;
    groups.emplace_back(j, k);
    j = k;
  }
  const uint32_t first_edge = static_cast<uint32_t>(edges_.size());
  edges_.resize(edges_.size() + groups.size());
  nodes_[me].first_edge = first_edge;
  nodes_[me].n_edges = static_cast<uint32_t>(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    const uint8_t b = static_cast<uint8_t>(text(groups[g].first)[depth]);
    const uint32_t child = build(bytes, ids, groups[g].first, groups[g].second, depth + 1);
    edges_[first_edge + g] = Edge{b, child};
  }
  return me;
}

size_t TokenTrie::allowed(const GrammarState& state, std::vector<uint64_t>& allowed) const {
  allowed.assign((n_vocab_ + 63) / 64, 0);
  // One state per depth, reused: copying into a slot keeps its capacity, so the walk does not allocate.
  std::vector<GrammarState> slots(max_depth_ + 1, state);
  return visit(0, 0, slots, allowed);
}

size_t TokenTrie::visit(uint32_t node, size_t depth, std::vector<GrammarState>& slots, std::vector<uint64_t>& allowed) const {
  size_t n = 0;
  const Node& nd = nodes_[node];
  for (uint32_t e = nd.first_edge; e < nd.first_edge + nd.n_edges; ++e) {
    GrammarState& next = slots[depth + 1];
    next = slots[depth];
    if (!next.step(edges_[e].byte)) continue;
    const Node& child = nodes_[edges_[e].child];
    for (uint32_t t = child.first_token; t < child.first_token + child.n_tokens; ++t) {
      const auto id = static_cast<size_t>(tokens_[t]);
      allowed[id / 64] |= uint64_t{1} << (id % 64);
      ++n;
    }
    n += visit(edges_[e].child, depth + 1, slots, allowed);
  }
  return n;
}

namespace {

std::vector<std::string> text_tokens(const std::vector<std::string>& text, const std::vector<bool>& control) {
  std::vector<std::string> out(text.size());
  for (size_t i = 0; i < text.size(); ++i)
    if (!control[i]) out[i] = text[i];
  return out;
}

std::vector<std::string> all_text(const Tokenizer& tok) {
  std::vector<std::string> out(tok.vocab_size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::string(tok.token_bytes(static_cast<int32_t>(i)));
  return out;
}

std::vector<bool> control_flags(const Tokenizer& tok) {
  std::vector<bool> out(tok.vocab_size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = tok.is_control(static_cast<int32_t>(i));
  return out;
}

}  // namespace

ConstraintVocab::ConstraintVocab(const Tokenizer& tok) : ConstraintVocab(all_text(tok), control_flags(tok)) {}

ConstraintVocab::ConstraintVocab(const std::vector<std::string>& text, const std::vector<bool>& ctl)
    : trie(text_tokens(text, ctl)), token_text(text), is_control(ctl) {
  for (size_t i = 0; i < text.size(); ++i)
    if (ctl[i] && !text[i].empty()) control.emplace_back(static_cast<int32_t>(i), text[i]);
}

GrammarMasker::GrammarMasker(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const ConstraintVocab> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)) {}

bool GrammarMasker::feed(GrammarState& state, int32_t token) const {
  if (token < 0 || static_cast<size_t>(token) >= vocab_->token_text.size()) return false;
  const std::string& text = vocab_->token_text[static_cast<size_t>(token)];
  return vocab_->is_control[static_cast<size_t>(token)] ? state.feed_control(text) : state.feed(text);
}

std::shared_ptr<const GrammarMasker::Mask> GrammarMasker::lookup(const GrammarState& state) {
  std::string key = state.key();
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  auto m = std::make_shared<Mask>();
  m->count = vocab_->trie.allowed(state, m->bits);
  for (const auto& [id, text] : vocab_->control) {
    if (!state.accepts_control(text)) continue;
    m->bits[static_cast<size_t>(id) / 64] |= uint64_t{1} << (id % 64);
    ++m->count;
  }
  std::lock_guard lock(mu_);
  if (cache_.size() >= kMaxCached) cache_.clear();  // a bound, not an LRU: states repeat within a request
  cache_.emplace(std::move(key), m);
  return m;
}

void GrammarMasker::mask(const GrammarState& state, std::span<const int32_t> end_tokens, float* logits) {
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  const size_t n_vocab = vocab_->token_text.size();
  const std::shared_ptr<const Mask> m = lookup(state);
  auto in_range = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n_vocab; };
  auto bit = [&](int32_t id) { return (m->bits[static_cast<size_t>(id) / 64] >> (id % 64)) & 1; };
  std::vector<float> saved(end_tokens.size(), kMasked);
  size_t others = m->count;
  for (size_t j = 0; j < end_tokens.size(); ++j) {
    if (!in_range(end_tokens[j])) continue;
    saved[j] = logits[end_tokens[j]];
    bool repeat = false;
    for (size_t k = 0; k < j; ++k) repeat = repeat || end_tokens[k] == end_tokens[j];
    if (!repeat && bit(end_tokens[j])) --others;
  }
  for (size_t w = 0; w < m->bits.size(); ++w) {
    const uint64_t word = m->bits[w];
    if (word == ~uint64_t{0}) continue;
    for (size_t b = 0; b < 64 && w * 64 + b < n_vocab; ++b)
      if (!((word >> b) & 1)) logits[w * 64 + b] = kMasked;
  }
  const bool allow_end = state.complete() || others == 0;
  for (size_t j = 0; j < end_tokens.size(); ++j)
    if (in_range(end_tokens[j])) logits[end_tokens[j]] = allow_end ? saved[j] : kMasked;
}

}  // namespace dseek
