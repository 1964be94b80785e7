// Activation memory for one forward step. A model takes every per-layer
// buffer from here instead of the heap: take() bumps a pointer, a Scope
// gives the memory back when a layer is done, and the blocks are kept for the
// next step. A step that needs more than the arena holds adds a block (pointers
// already handed out stay valid); reset() folds them into one, so a caller
// that reuses its arena across steps allocates nothing in the steady state.
// Not thread-safe: take() on the calling thread, hand out slices to workers
// (ThreadSlots below).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kernels/quantized_acts.h"

namespace dseek {

class LinearObserver;  // model/blocks/linear.h

class StepArena {
 public:
  StepArena() = default;
  StepArena(const StepArena&) = delete;
  StepArena& operator=(const StepArena&) = delete;

  // n uninitialised elements, 64-byte aligned, valid until released.
  template <class T>
  T* take(int64_t n) {
    return static_cast<T*>(take_bytes(static_cast<size_t>(n) * sizeof(T)));
  }

  struct Mark {
    size_t block = 0, used = 0;
  };
  Mark mark() const { return {block_, used_}; }
  void release(Mark m) { block_ = m.block, used_ = m.used; }
  // Releases everything; if the last step grew the arena, one block of the total size replaces the pieces.
  void reset();

  // n int8-activation buffers for one linear call (kernels::QuantizedActs):
  // the same objects every call, so their storage is reused once grown.
  std::span<kernels::QuantizedActs> int8_acts(size_t n) {
    if (int8_acts_.size() < n) int8_acts_.resize(n);
    return {int8_acts_.data(), n};
  }

  // Who sees every linear layer's input during the step (`dseek imatrix`);
  // null (the default) costs linear_many one branch per call.
  void set_linear_observer(LinearObserver* o) { observer_ = o; }
  LinearObserver* linear_observer() const { return observer_; }

  // Gives back what was taken during its lifetime.
  class Scope {
   public:
    explicit Scope(StepArena& a) : arena_(a), mark_(a.mark()) {}
    ~Scope() { arena_.release(mark_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    StepArena& arena_;
    Mark mark_;
  };

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  struct Block {
    std::unique_ptr<std::byte[], Free> data;
    size_t size = 0;
  };
  void* take_bytes(size_t bytes);

  std::vector<Block> blocks_;
  size_t block_ = 0, used_ = 0;
  std::vector<kernels::QuantizedActs> int8_acts_;
  LinearObserver* observer_ = nullptr;
};

// Per-thread scratch for one ThreadPool::parallel_for: `slots` slices of n
// elements (slots >= the pool's size); each call of the job body takes its own
// slice (the pool calls the body at most once per thread).
template <class T>
class ThreadSlots {
 public:
  ThreadSlots(StepArena& arena, int slots, int64_t n) : n_(round_up(n)) { base_ = arena.take<T>(slots * n_); }
  T* take() { return base_ + next_.fetch_add(1, std::memory_order_relaxed) * n_; }

 private:
  // Whole cache lines per slice: no two threads write to one line.
  static int64_t round_up(int64_t n) {
    constexpr int64_t per_line = 64 / sizeof(T) > 0 ? 64 / sizeof(T) : 1;
    return (n + per_line - 1) / per_line * per_line;
  }
  T* base_ = nullptr;
  int64_t n_;
  std::atomic<int64_t> next_{0};
};

}  // namespace dseek
