// Run-time ISA selection for the CPU kernels: CPUID once, then a fixed table.
#include <cstring>

#include "kernels/cpu/dot_row.h"

namespace dseek::kernels {
namespace {

bool has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"); }
bool has_avx512() {
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

}  // namespace

const DotRowTable* dot_row_table(const char* isa) {
  static const DotRowTable avx512 = has_avx512() ? dot_row_table_avx512() : DotRowTable{};
  static const DotRowTable avx2 = has_avx2() ? dot_row_table_avx2() : DotRowTable{};
  if (std::strcmp(isa, "avx512") == 0) return has_avx512() ? &avx512 : nullptr;
  if (std::strcmp(isa, "avx2") == 0) return has_avx2() ? &avx2 : nullptr;
  return nullptr;
}

const DotRowTable& active_dot_rows() {
  static const DotRowTable none{};
  static const DotRowTable& t = [] () -> const DotRowTable& {
    if (const auto* a = dot_row_table("avx512")) return *a;
    if (const auto* a = dot_row_table("avx2")) return *a;
    return none;
  }();
  return t;
}

DotRowFn select_dot_row(DType t) {
  const DotRowTable& d = active_dot_rows();
  switch (t) {
    case DType::kF32: return d.f32;
    case DType::kF16: return d.f16;
    case DType::kBF16: return d.bf16;
    case DType::kQ8_0: return d.q8_0;
    case DType::kQ4_K: return d.q4_k;
    case DType::kQ6_K: return d.q6_k;
    default: return nullptr;
  }
}

}  // namespace dseek::kernels
