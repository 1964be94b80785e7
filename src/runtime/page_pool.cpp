// See page_pool.h.
#include "runtime/page_pool.h"

#include <cassert>

namespace dseek {

PagePool::PagePool(int64_t n_layer, int64_t width, int64_t page_tokens, int64_t n_pages)
    : n_layer_(n_layer), width_(width), page_tokens_(page_tokens),
      storage_(static_cast<size_t>(n_pages * n_layer * page_tokens * width), 0.0f),
      refs_(static_cast<size_t>(n_pages), 0) {
  free_.reserve(static_cast<size_t>(n_pages));
  for (int64_t p = n_pages - 1; p >= 0; --p) free_.push_back(static_cast<int32_t>(p));
}

std::optional<int32_t> PagePool::alloc() {
  if (free_.empty()) return std::nullopt;
  const int32_t p = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(p)] = 1;
  return p;
}

void PagePool::retain(int32_t page) {
  assert(refs_[static_cast<size_t>(page)] > 0);
  ++refs_[static_cast<size_t>(page)];
}

void PagePool::release(int32_t page) {
  int32_t& r = refs_[static_cast<size_t>(page)];
  assert(r > 0);
  if (--r == 0) free_.push_back(page);
}

}  // namespace dseek
