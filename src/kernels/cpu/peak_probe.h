// Internal to kernels/cpu: the int8 peak probe's loop (PeakProbeFn in
// int8_dot.h), shared by the ISA files; each includes it and instantiates it
// with its own vector type and dot step under its own -m flags.
#pragma once

#include <cstdint>

namespace dseek::kernels {
namespace {

// Twelve accumulator chains a = step(a, s), each pinned to a register every
// round. Each chain's accumulator is also its unsigned operand, so no two
// steps share a product (nothing to hoist or merge, whether or not the step
// is a single instruction). Returns the operations done: ops_per_step each.
template <class V, class Step>
double peak_probe_loop(int64_t iters, V one, V s, Step step, double ops_per_step) {
  V a0 = one, a1 = one, a2 = one, a3 = one, a4 = one, a5 = one, a6 = one, a7 = one, a8 = one, a9 = one, a10 = one,
    a11 = one;
  asm("" : "+v"(s));
  for (int64_t i = 0; i < iters; ++i) {
    a0 = step(a0, s), a1 = step(a1, s), a2 = step(a2, s), a3 = step(a3, s), a4 = step(a4, s), a5 = step(a5, s);
    a6 = step(a6, s), a7 = step(a7, s), a8 = step(a8, s), a9 = step(a9, s), a10 = step(a10, s), a11 = step(a11, s);
    asm volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9),
                 "+v"(a10), "+v"(a11));
  }
  return 12.0 * ops_per_step * static_cast<double>(iters);
}

}  // namespace
}  // namespace dseek::kernels
