// Internal to kernels/: the int8-activation matmul kernels, one table per ISA
// (int8_<isa>.cpp, each compiled with its own -m flags); cpu/dispatch.cpp picks
// the best by CPUID once. Every entry gives matmul_q8_ref's bits (the canonical
// order is described in kernels/ref/int8_matmul.cpp).
#pragma once

#include <cstdint>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/per_dtype.h"
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
  Isa isa = Isa::kScalar;
  PerDType<Int8MatmulFn> matmul;      // q8_0, q4_K, q6_K (see uses_int8_path)
  QuantizeActsFn quantize = nullptr;  // nullptr: quantize_activations_ref
  PeakProbeFn peak_probe = nullptr;
};

Int8Table int8_table_avx2();
Int8Table int8_table_avx512bw();
Int8Table int8_table_avx512vnni();

}  // namespace dseek::kernels
