// Internal to kernels/: element-wise activation kernels per ISA
// (elementwise_<isa>.cpp, each with its own -m flags). They replace the
// scalar loops' std::exp with a vector exp accurate to about 1 ulp and keep
// every other operation of the scalar formula in the same order, so each
// element is a fixed function of its inputs (batch and thread invariance hold).
#pragma once

#include <cstdint>

#include "kernels/cpu/isa.h"

namespace dseek::kernels {

// out[i] = gate[i] / (1 + exp(-gate[i])) * up[i] (out may alias gate or up).
using SiluMulFn = void (*)(const float* gate, const float* up, float* out, int64_t n);
// x[i] = exp(x[i] - shift) in place (softmax's numerators).
using ExpShiftFn = void (*)(float* x, float shift, int64_t n);

struct ElementwiseTable {
  Isa isa = Isa::kScalar;
  SiluMulFn silu_mul = nullptr;  // nullptr: silu_mul_ref
  ExpShiftFn exp_shift = nullptr;  // nullptr: exp_shift_ref
};

ElementwiseTable elementwise_table_avx512();

}  // namespace dseek::kernels
