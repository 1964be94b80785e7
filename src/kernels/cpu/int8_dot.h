// Internal to kernels/: the int8-activation matmul kernels, one table per ISA
// (int8_<isa>.cpp, each compiled with its own -m flags); dispatch.cpp picks the
// best by CPUID once. Every entry gives matmul_q8_ref's bits (the canonical
// order is described in kernels/ref/int8_matmul.cpp).
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace dseek::kernels {

using Int8MatmulFn = void (*)(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride,
                              int64_t row_begin, int64_t row_end);

using QuantizeActsFn = void (*)(const float* x, int64_t x_stride, QuantizedActs& out, int64_t t_begin, int64_t t_end);

// Runs `iters` rounds of the ISA's int8 dot step (the instructions the
// kernels' inner loops use) on twelve independent register accumulators, no
// memory operands; returns the integer operations done (a multiply-add is 2).
using PeakProbeFn = double (*)(int64_t iters);

struct Int8Table {
  Int8MatmulFn q8_0 = nullptr, q4_k = nullptr, q6_k = nullptr;
  QuantizeActsFn quantize = nullptr;  // nullptr: quantize_activations_ref
  PeakProbeFn peak_probe = nullptr;
  const char* isa = "scalar";
};

Int8Table int8_table_avx2();
Int8Table int8_table_avx512bw();
Int8Table int8_table_avx512vnni();

// For tests and benchmarks: a table by ISA name ("avx2", "avx512bw",
// "avx512vnni"); nullptr if this CPU lacks it.
const Int8Table* int8_table(const char* isa);
// The best table this CPU supports (computed once, immutable afterwards).
const Int8Table& active_int8();
// The entry for `t` in `table`, or nullptr.
Int8MatmulFn int8_fn(const Int8Table& table, DType t);

}  // namespace dseek::kernels
