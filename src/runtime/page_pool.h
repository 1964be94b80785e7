// The server's attention-cache memory: a fixed number of equal pages
// (KvCache's page layout), reference-counted so that sequences sharing a
// prompt prefix share its pages. Allocation never touches the OS after
// construction: a request that finds no free page waits or is refused by the
// engine's admission control, it never grows the process.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "model/kv_cache.h"

namespace dseek {

class PagePool {
 public:
  PagePool(int64_t n_layer, int64_t width, int64_t page_tokens, int64_t n_pages);
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  // A page with reference count 1, or nothing when all are in use.
  std::optional<int32_t> alloc();
  void retain(int32_t page);
  // Drops one reference; the page is free again at zero.
  void release(int32_t page);
  int32_t refs(int32_t page) const { return refs_[static_cast<size_t>(page)]; }

  // An empty cache view over this pool (the caller fills its page table).
  KvCache view() { return KvCache(storage_.data(), n_layer_, width_, page_tokens_); }

  int64_t page_tokens() const { return page_tokens_; }
  int64_t n_pages() const { return static_cast<int64_t>(refs_.size()); }
  int64_t n_free() const { return static_cast<int64_t>(free_.size()); }
  int64_t bytes() const { return static_cast<int64_t>(storage_.size() * sizeof(float)); }

 private:
  int64_t n_layer_, width_, page_tokens_;
  std::vector<float> storage_;
  std::vector<int32_t> refs_;
  std::vector<int32_t> free_;  // a stack: the most recently freed page is reused first (warm in cache)
};

}  // namespace dseek
