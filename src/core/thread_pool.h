// ThreadPool: a fixed set of worker threads (RAII: joined on destruction) that
// run one parallel_for at a time. Work is split into contiguous ranges by a
// fixed rule (range i of n), so which thread computes which rows never depends
// on timing — kernels stay deterministic for a given thread count, and a
// kernel that reduces within a row is invariant across thread counts.
//
// Decode issues a few hundred parallel_for calls per token, microseconds
// apart; a futex sleep/wake pair per call costs tens of microseconds under a
// hypervisor. So both sides spin briefly on atomics (a bounded number of
// pause instructions) before they block on the condition variables.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dseek {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1; the caller's thread is one of them
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel, and
  // returns when all are done. Ranges are at least `grain` long.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

 private:
  void worker(int index);
  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  // The job: written by parallel_for before generation_ is bumped (release),
  // read by workers after they see the new generation (acquire).
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0, job_chunks_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace dseek
