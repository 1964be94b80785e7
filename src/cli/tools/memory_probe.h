// A STREAM-style read-bandwidth probe (the "read-only sum" of BENCHMARKS.md):
// each thread first-touches and then sums its own slice of a large array of
// doubles; the best of `reps` runs is reported in GB/s (1 GB = 1e9 bytes).
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

namespace dseek {

double measure_read_bandwidth_gbs(ThreadPool& pool, uint64_t bytes, int reps);

}  // namespace dseek
