// See step_arena.h.
#include "model/step_arena.h"

#include <algorithm>
#include <new>

namespace dseek {
namespace {

constexpr size_t kAlign = 64;  // a cache line: no two threads' slices share one
constexpr size_t kMinBlock = size_t{64} << 10;  // below malloc's mmap threshold: a small call stays cheap

}  // namespace

void StepArena::Free::operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(kAlign)); }

void* StepArena::take_bytes(size_t bytes) {
  bytes = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
  while (block_ < blocks_.size() && used_ + bytes > blocks_[block_].size) ++block_, used_ = 0;
  if (block_ == blocks_.size()) {
    size_t total = 0;
    for (const Block& b : blocks_) total += b.size;
    const size_t size = std::max({bytes, total, kMinBlock});
    blocks_.push_back({std::unique_ptr<std::byte[], Free>(static_cast<std::byte*>(
                           ::operator new[](size, std::align_val_t(kAlign)))),
                       size});
    used_ = 0;
  }
  void* p = blocks_[block_].data.get() + used_;
  used_ += bytes;
  return p;
}

void StepArena::reset() {
  block_ = used_ = 0;
  if (blocks_.size() <= 1) return;
  size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  blocks_.clear();
  blocks_.push_back({std::unique_ptr<std::byte[], Free>(static_cast<std::byte*>(
                         ::operator new[](total, std::align_val_t(kAlign)))),
                     total});
}

}  // namespace dseek
