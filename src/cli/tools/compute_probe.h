// The machine's int8 arithmetic ceiling, measured: every thread of the pool
// runs the active ISA's register-only int8 dot loop (kernels::int8_peak_probe)
// at once; the best of `reps` runs is reported in GOP/s (a multiply-add counts
// 2). Prefill GFLOP/s is quoted against it: the peak depends on the machine
// (Zen 4 issues one 512-bit vpdpbusd per cycle, Zen 5 two), so it is read off
// the machine, never assumed. 0 where the int8 path is scalar.
#pragma once

#include "core/thread_pool.h"

namespace dseek {

double measure_int8_peak_gops(ThreadPool& pool, int reps);

}  // namespace dseek
