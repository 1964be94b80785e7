// Run-time ISA selection for the CPU kernels: CPUID once, then a fixed table.
#include <cpuid.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/dot_row.h"

namespace dseek::kernels {
namespace {

// CPUID feature bits plus XGETBV (the OS must save the YMM/ZMM state), read
// directly: compilers disagree on which names __builtin_cpu_supports knows.
struct CpuFeatures {
  bool avx2 = false, avx512 = false;
  CpuFeatures() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!osxsave || !avx) return;
    uint32_t xlo, xhi;
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const bool ymm_state = (xlo & 0x6) == 0x6, zmm_state = (xlo & 0xE6) == 0xE6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    avx2 = ymm_state && fma && f16c && (b & (1u << 5));
    const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
    avx512 = avx2 && zmm_state && f && dq && bw && vl;
  }
};

const CpuFeatures& cpu() {
  static const CpuFeatures f;
  return f;
}

bool has_avx2() { return cpu().avx2; }
bool has_avx512() { return cpu().avx512; }

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

DequantRowFn select_dequant_row(DType t) {
  const DotRowTable& d = active_dot_rows();
  switch (t) {
    case DType::kF16: return d.dq_f16;
    case DType::kBF16: return d.dq_bf16;
    case DType::kQ8_0: return d.dq_q8_0;
    case DType::kQ4_K: return d.dq_q4_k;
    case DType::kQ6_K: return d.dq_q6_k;
    default: return nullptr;
  }
}

}  // namespace dseek::kernels
