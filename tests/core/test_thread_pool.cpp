// ThreadPool: every index of every parallel_for is visited exactly once, by
// ranges that follow the fixed split rule, across thousands of back-to-back
// calls whose chunk counts vary (fewer chunks than threads included: the
// workers without a chunk must still not pick up a stale or a later job).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/thread_pool.h"

namespace dseek {
namespace {

TEST(ThreadPool, EveryIndexOnceAcrossManyCallsAndShapes) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int call = 0; call < 3000; ++call) {
      const int64_t n = 1 + (call * 7919) % 97;
      const int64_t grain = 1 + call % 40;
      std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
      std::atomic<int> ranges{0};
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        ASSERT_LT(b, e);
        for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
        ranges.fetch_add(1);
      }, grain);
      const int64_t want_ranges = std::min<int64_t>(threads, std::max<int64_t>(1, n / grain));
      ASSERT_EQ(ranges.load(), want_ranges) << "threads=" << threads << " call=" << call;
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1) << "threads=" << threads << " i=" << i;
    }
  }
}

// The split does not depend on timing: range boundaries are the same on every call.
TEST(ThreadPool, RangesAreAFixedFunctionOfTheCall) {
  ThreadPool pool(3);
  for (int call = 0; call < 200; ++call) {
    std::vector<int64_t> end_of(101, -1);  // end_of[b] = e for each range [b, e)
    pool.parallel_for(100, [&](int64_t b, int64_t e) { end_of[static_cast<size_t>(b)] = e; });
    std::vector<int64_t> want(101, -1);
    want[0] = 33, want[33] = 66, want[66] = 100;  // range i of 3 over [0, 100): [100i/3, 100(i+1)/3)
    ASSERT_EQ(end_of, want) << "call " << call;
  }
}

// Idle long enough for the workers to stop spinning and block, then wake them.
TEST(ThreadPool, WakesWorkersThatWentToSleep) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::atomic<int64_t> sum{0};
    pool.parallel_for(1000, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
    });
    EXPECT_EQ(sum.load(), 999 * 1000 / 2);
  }
}

}  // namespace
}  // namespace dseek
