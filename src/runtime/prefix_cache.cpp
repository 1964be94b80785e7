// See prefix_cache.h.
#include "runtime/prefix_cache.h"

#include <algorithm>

namespace dseek {

PrefixCache::~PrefixCache() {
  for (auto& [key, e] : entries_) pool_.release(e.page);
}

uint64_t PrefixCache::chain_key(uint64_t parent, std::span<const int32_t> page_tokens) {
  uint64_t h = parent ^ 0x9E3779B97F4A7C15ull;  // FNV-style mix of 32-bit ids, seeded by the parent's key
  for (int32_t t : page_tokens) {
    h ^= static_cast<uint32_t>(t);
    h *= 0x100000001B3ull;
    h ^= h >> 29;
  }
  return h == 0 ? 1 : h;  // 0 is "no parent"
}

const PrefixCache::Entry* PrefixCache::find(uint64_t parent, std::span<const int32_t> page_tokens, uint64_t* key) const {
  *key = chain_key(parent, page_tokens);
  auto it = entries_.find(*key);
  if (it == entries_.end() || it->second.parent != parent ||
      !std::equal(page_tokens.begin(), page_tokens.end(), it->second.tokens.begin(), it->second.tokens.end()))
    return nullptr;
  return &it->second;
}

std::vector<int32_t> PrefixCache::lookup(std::span<const int32_t> tokens, int64_t max_pages) {
  const int64_t P = pool_.page_tokens();
  std::vector<int32_t> pages;
  uint64_t parent = 0;
  ++clock_;
  for (int64_t i = 0; i < max_pages && (i + 1) * P <= static_cast<int64_t>(tokens.size()); ++i) {
    uint64_t key = 0;
    const Entry* e = find(parent, tokens.subspan(static_cast<size_t>(i * P), static_cast<size_t>(P)), &key);
    if (!e) break;
    entries_[key].last_used = clock_;
    pool_.retain(e->page);
    pages.push_back(e->page);
    parent = key;
  }
  return pages;
}

void PrefixCache::insert(std::span<const int32_t> tokens, std::span<const int32_t> pages) {
  const int64_t P = pool_.page_tokens();
  const int64_t n_full = std::min<int64_t>(static_cast<int64_t>(pages.size()), static_cast<int64_t>(tokens.size()) / P);
  uint64_t parent = 0;
  ++clock_;
  for (int64_t i = 0; i < n_full; ++i) {
    const auto page_tokens = tokens.subspan(static_cast<size_t>(i * P), static_cast<size_t>(P));
    uint64_t key = 0;
    if (find(parent, page_tokens, &key)) {
      entries_[key].last_used = clock_;
      parent = key;
      continue;
    }
    if (entries_.count(key)) return;  // a hash collision with a different prefix: keep the old one, stop here
    const int32_t page = pages[static_cast<size_t>(i)];
    pool_.retain(page);
    entries_[key] = Entry{parent, std::vector<int32_t>(page_tokens.begin(), page_tokens.end()), page, clock_};
    parent = key;
  }
}

bool PrefixCache::evict_one() {
  auto victim = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it)
    if (pool_.refs(it->second.page) == 1 && (victim == entries_.end() || it->second.last_used < victim->second.last_used))
      victim = it;
  if (victim == entries_.end()) return false;
  pool_.release(victim->second.page);
  entries_.erase(victim);
  return true;
}

}  // namespace dseek
