// See thread_pool.h.
#include "core/thread_pool.h"

#include <algorithm>

namespace dseek {

namespace {

// ~30-60 us of polling (a pause is tens of cycles): long enough to bridge the
// gap between a decode step's parallel_for calls, short enough that an idle
// pool goes to sleep at once in human terms.
constexpr int kSpinIterations = 1 << 12;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Chunk c of `chunks` over [0, n): fixed boundaries.
std::pair<int64_t, int64_t> chunk_range(int64_t n, int64_t chunks, int64_t c) {
  return {n * c / chunks, n * (c + 1) / chunks};
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  const int64_t chunks = std::min<int64_t>(n_threads_, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_chunks_ = chunks;
  // Every worker acknowledges every job, chunk or not: the next job's fields
  // are written only after all workers are done reading these.
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    // Under the lock, so a worker that checked the generation and is about to
    // block cannot miss this bump.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();  // no system call when every worker is still spinning
  const auto [b, e] = chunk_range(n, chunks, 0);
  fn(b, e);
  for (int i = 0; i < kSpinIterations && pending_.load(std::memory_order_acquire) != 0; ++i) cpu_relax();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  job_ = nullptr;
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto ready = [&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
    for (int i = 0; i < kSpinIterations && !ready(); ++i) cpu_relax();
    if (!ready()) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, ready);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    const int64_t n = job_n_, chunks = job_chunks_;
    if (index < chunks) {
      const auto [b, e] = chunk_range(n, chunks, index);
      (*job_)(b, e);
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // pairs with the caller's check-then-wait under mu_
      done_cv_.notify_one();
    }
  }
}

}  // namespace dseek
