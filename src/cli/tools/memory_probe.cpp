// See memory_probe.h.
#include "cli/tools/memory_probe.h"

#include "kernels/kernels.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

namespace dseek {

double measure_read_bandwidth_gbs(ThreadPool& pool, uint64_t bytes, int reps) {
  const int64_t n = static_cast<int64_t>(bytes / sizeof(double));
  std::unique_ptr<double[]> a(new double[static_cast<size_t>(n)]);  // uninitialised: pages are first-touched below
  pool.parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) a[static_cast<size_t>(i)] = static_cast<double>(i & 7);
  });
  std::vector<double> partial(static_cast<size_t>(pool.size()) + 1);
  double best = 0;
  volatile double sink = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      partial[static_cast<size_t>(b * pool.size() / n)] = kernels::stream_sum(a.get() + b, e - b);
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (double p : partial) sink = sink + p;
    best = std::max(best, static_cast<double>(n) * sizeof(double) / secs / 1e9);
  }
  (void)sink;
  return best;
}

}  // namespace dseek
