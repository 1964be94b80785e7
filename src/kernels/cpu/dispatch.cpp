// Run-time ISA selection for the CPU kernels: CPUID once, then fixed tables.
#include "kernels/cpu/dispatch.h"

#include <cpuid.h>

#include <array>
#include <initializer_list>
#include <optional>
#include <utility>

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

// One kind of table for every ISA this CPU supports, built once; the best is
// the most capable ISA that has one (nullptr entries: an empty scalar table).
template <class Table>
class IsaTables {
 public:
  IsaTables(std::initializer_list<std::pair<Isa, Table (*)()>> makers) {
    for (const auto& [isa, make] : makers)
      if (cpu_supports(isa)) tables_[static_cast<size_t>(isa)] = make();
  }
  const Table* find(Isa isa) const {
    const auto& t = tables_[static_cast<size_t>(isa)];
    return t ? &*t : nullptr;
  }
  const Table& best() const {
    for (size_t i = kIsaCount; i-- > 0;)
      if (tables_[i]) return *tables_[i];
    return scalar_;
  }

 private:
  std::array<std::optional<Table>, kIsaCount> tables_;
  Table scalar_{};
};

const IsaTables<DotRowTable>& dot_row_tables() {
  static const IsaTables<DotRowTable> t{{Isa::kAvx2, dot_row_table_avx2}, {Isa::kAvx512, dot_row_table_avx512}};
  return t;
}

const IsaTables<Int8Table>& int8_tables() {
  static const IsaTables<Int8Table> t{
      {Isa::kAvx2, int8_table_avx2}, {Isa::kAvx512, int8_table_avx512bw}, {Isa::kAvx512Vnni, int8_table_avx512vnni}};
  return t;
}

const IsaTables<ElementwiseTable>& elementwise_tables() {
  static const IsaTables<ElementwiseTable> t{{Isa::kAvx512, elementwise_table_avx512}};
  return t;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vnni: return "avx512vnni";
    default: return "scalar";
  }
}

bool cpu_supports(Isa isa) {
  static const CpuFeatures f;
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return f.avx2;
    case Isa::kAvx512: return f.avx512;
    case Isa::kAvx512Vnni: return f.avx512_vnni;
  }
  return false;
}

const KernelBackend& backend() {
  static const KernelBackend b{dot_row_tables().best(), int8_tables().best(), elementwise_tables().best()};
  return b;
}

const DotRowTable* dot_row_table(Isa isa) { return dot_row_tables().find(isa); }
const Int8Table* int8_table(Isa isa) { return int8_tables().find(isa); }
const ElementwiseTable* elementwise_table(Isa isa) { return elementwise_tables().find(isa); }

}  // namespace dseek::kernels
