// Reuse of computed cache pages across requests: a conversation's next turn,
// or many requests with the same system prompt, start from the pages an
// earlier request filled instead of recomputing them.
//
// Only full pages are shared. A page is keyed by its own tokens and the key
// of the page before it (a chain), so a hit means the whole prefix up to and
// including that page matches token for token. Shared pages are immutable:
// a sequence only ever writes to positions past its shared prefix, in pages
// it owns. The cache holds one reference per page; pages only the cache
// holds are evicted least-recently-used first when the pool runs dry.
//
// Reuse is exact, not approximate: the engine's kernels give a token's cache
// row the same bits whether it was computed alone, in a batch or in a chunk.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "runtime/page_pool.h"

namespace dseek {

class PrefixCache {
 public:
  explicit PrefixCache(PagePool& pool) : pool_(pool) {}
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;
  ~PrefixCache();

  // Pages holding the longest cached prefix of `tokens`, at most `max_pages`
  // of them; each returned page is retained for the caller.
  std::vector<int32_t> lookup(std::span<const int32_t> tokens, int64_t max_pages);
  // Offers the full pages of a sequence whose first pages.size() * page_tokens
  // positions hold `tokens`' rows. Pages already known stay as they are.
  void insert(std::span<const int32_t> tokens, std::span<const int32_t> pages);
  // Frees the least recently used page that nobody but the cache holds.
  bool evict_one();
  int64_t n_cached_pages() const { return static_cast<int64_t>(entries_.size()); }

 private:
  struct Entry {
    uint64_t parent = 0;
    std::vector<int32_t> tokens;  // this page's tokens, checked on every hit (no trust in the hash)
    int32_t page = -1;
    uint64_t last_used = 0;
  };
  static uint64_t chain_key(uint64_t parent, std::span<const int32_t> page_tokens);
  const Entry* find(uint64_t parent, std::span<const int32_t> page_tokens, uint64_t* key) const;

  PagePool& pool_;
  std::unordered_map<uint64_t, Entry> entries_;
  uint64_t clock_ = 0;
};

}  // namespace dseek
