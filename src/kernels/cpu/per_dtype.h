// Internal to kernels/: the shape of the per-ISA function tables' type-indexed entries.
#pragma once

#include <array>
#include <cstddef>

#include "core/dtype.h"

namespace dseek::kernels {

// One function per element type, indexed by DType; nullptr where the ISA has
// no kernel for that type (callers then take the scalar reference).
template <class Fn>
struct PerDType {
  std::array<Fn, kDTypeCount> fn{};
  Fn& operator[](DType t) { return fn[static_cast<size_t>(t)]; }
  Fn operator[](DType t) const { return fn[static_cast<size_t>(t)]; }
};

}  // namespace dseek::kernels
