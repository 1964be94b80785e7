// See compute_probe.h.
#include "cli/tools/compute_probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "kernels/kernels.h"

namespace dseek {

double measure_int8_peak_gops(ThreadPool& pool, int reps) {
  // About 10 ms per run at 500 GOP/s per core: long enough for the clock to
  // settle, short enough to run before and after every benchmark.
  constexpr int64_t kIters = 1 << 22;
  if (kernels::int8_peak_probe(1) <= 0) return 0.0;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::atomic<int64_t> ops_milli{0};  // operations / 1000, summed over threads
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(pool.size(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ops_milli += static_cast<int64_t>(kernels::int8_peak_probe(kIters) / 1000);
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(ops_milli.load()) * 1000 / secs / 1e9);
  }
  return best;
}

}  // namespace dseek
