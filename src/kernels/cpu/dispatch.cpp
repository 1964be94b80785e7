// Run-time ISA selection for the CPU kernels: CPUID once, then a fixed table.
#include <cpuid.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "kernels/cpu/dot_row.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/int8_dot.h"

namespace dseek::kernels {
namespace {

// CPUID feature bits plus XGETBV (the OS must save the YMM/ZMM state), read
// directly: compilers disagree on which names __builtin_cpu_supports knows.
struct CpuFeatures {
  bool avx2 = false, avx512 = false, avx512_vnni = false;
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
    avx512_vnni = avx512 && (c & (1u << 11));  // CPUID.7.0:ECX.AVX512_VNNI
  }
};

const CpuFeatures& cpu() {
  static const CpuFeatures f;
  return f;
}

bool has_avx2() { return cpu().avx2; }
bool has_avx512() { return cpu().avx512; }
bool has_avx512_vnni() { return cpu().avx512_vnni; }

// The first of `isas` (best first) this CPU supports, or an empty (scalar) table.
template <class Table>
const Table& best_table(const Table* (*lookup)(const char*), std::initializer_list<const char*> isas) {
  static const Table none{};
  for (const char* isa : isas)
    if (const Table* t = lookup(isa)) return *t;
  return none;
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
  static const DotRowTable& t = best_table(dot_row_table, {"avx512", "avx2"});
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
    case DType::kF8E4M3: return d.dq_f8_e4m3;
    default: return nullptr;
  }
}

const Int8Table* int8_table(const char* isa) {
  static const Int8Table vnni = has_avx512_vnni() ? int8_table_avx512vnni() : Int8Table{};
  static const Int8Table bw = has_avx512() ? int8_table_avx512bw() : Int8Table{};
  static const Int8Table avx2 = has_avx2() ? int8_table_avx2() : Int8Table{};
  if (std::strcmp(isa, "avx512vnni") == 0) return has_avx512_vnni() ? &vnni : nullptr;
  if (std::strcmp(isa, "avx512bw") == 0) return has_avx512() ? &bw : nullptr;
  if (std::strcmp(isa, "avx2") == 0) return has_avx2() ? &avx2 : nullptr;
  return nullptr;
}

const Int8Table& active_int8() {
  static const Int8Table& t = best_table(int8_table, {"avx512vnni", "avx512bw", "avx2"});
  return t;
}

Int8MatmulFn int8_fn(const Int8Table& table, DType t) {
  switch (t) {
    case DType::kQ8_0: return table.q8_0;
    case DType::kQ4_K: return table.q4_k;
    case DType::kQ6_K: return table.q6_k;
    default: return nullptr;
  }
}

const ElementwiseTable* elementwise_table(const char* isa) {
  static const ElementwiseTable avx512 = has_avx512() ? elementwise_table_avx512() : ElementwiseTable{};
  if (std::strcmp(isa, "avx512") == 0) return has_avx512() ? &avx512 : nullptr;
  return nullptr;
}

const ElementwiseTable& active_elementwise() {
  static const ElementwiseTable& t = best_table(elementwise_table, {"avx512"});
  return t;
}

double int8_peak_probe(int64_t iters) {
  const PeakProbeFn probe = active_int8().peak_probe;
  return probe && iters > 0 ? probe(iters) : 0.0;
}

}  // namespace dseek::kernels
