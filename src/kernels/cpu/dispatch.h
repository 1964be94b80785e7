// The kernel backend seam. The public entry points (kernels.h, implemented in
// kernels/*.cpp) never call an ISA's code directly: they ask backend() for a
// KernelBackend, a set of function tables, and call the entry for the weight's
// type, falling back to the scalar reference (kernels/ref/reference.h) where
// the entry is nullptr. Today the tables are filled per CPU ISA
// (cpu/<kind>_<isa>.cpp) and the best one this machine supports is chosen once
// by CPUID (cpu/dispatch.cpp). Another backend (a GPU) plugs in here: it
// supplies its own tables (or a whole-matrix table beside these, for kernels
// that want the full MatrixView rather than one row), and backend() chooses
// it; model code, which only sees kernels.h, does not change.
//
// Adding an ISA: a new Isa enumerator (cpu/isa.h) and its CPUID test, a
// cpu/<kind>_<isa>.cpp per table kind compiled with its -m flags
// (CMakeLists.txt), and one line in the maker list of each table kind in
// dispatch.cpp. The tests loop over kSimdIsas and compare every entry with the
// reference.
#pragma once

#include "kernels/cpu/dot_row.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/int8_dot.h"
#include "kernels/cpu/isa.h"

namespace dseek::kernels {

// The tables the entry points call; each is the best this CPU supports for
// its kind of kernel (so their ISAs may differ: AVX-512 for f32 rows, VNNI for int8).
struct KernelBackend {
  const DotRowTable& rows;             // f32-activation row dots, dequantisers, f32 vector helpers
  const Int8Table& int8;               // int8-activation matmuls (matmul_q8)
  const ElementwiseTable& elementwise;  // SiLU, softmax numerators
};

// The active backend, chosen on first use and immutable afterwards.
const KernelBackend& backend();

// For tests and benchmarks: one ISA's table; nullptr where this CPU lacks the
// ISA or the ISA has no table of that kind.
const DotRowTable* dot_row_table(Isa isa);
const Int8Table* int8_table(Isa isa);
const ElementwiseTable* elementwise_table(Isa isa);

}  // namespace dseek::kernels
