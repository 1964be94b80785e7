// The CPU backend's selection: each table kind is the most capable ISA this
// CPU supports that has one, entries sit at their DType's index, and the ISA
// names are the ones benchmarks and logs print.
#include <gtest/gtest.h>

#include <string>

#include "kernels/cpu/dispatch.h"

namespace dseek::kernels {
namespace {

// The most capable of `isas` (ascending) this CPU supports, else kScalar.
Isa best_of(std::initializer_list<Isa> isas) {
  Isa best = Isa::kScalar;
  for (Isa isa : isas)
    if (cpu_supports(isa)) best = isa;
  return best;
}

TEST(Dispatch, BackendHasTheMostCapableSupportedIsaPerKind) {
  const KernelBackend& b = backend();
  EXPECT_EQ(b.rows.isa, best_of({Isa::kAvx2, Isa::kAvx512}));
  EXPECT_EQ(b.int8.isa, best_of({Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni}));
  EXPECT_EQ(b.elementwise.isa, best_of({Isa::kAvx512}));
  EXPECT_TRUE(cpu_supports(Isa::kScalar));
  for (Isa isa : kSimdIsas) {
    if (!cpu_supports(isa)) {
      EXPECT_EQ(dot_row_table(isa), nullptr) << isa_name(isa);
      EXPECT_EQ(int8_table(isa), nullptr) << isa_name(isa);
      EXPECT_EQ(elementwise_table(isa), nullptr) << isa_name(isa);
    }
    if (const DotRowTable* t = dot_row_table(isa)) { EXPECT_EQ(t->isa, isa); }
    if (const Int8Table* t = int8_table(isa)) { EXPECT_EQ(t->isa, isa); }
  }
}

TEST(Dispatch, TablesAreIndexedByDType) {
  const DotRowTable* t = dot_row_table(Isa::kAvx2);
  if (!t) GTEST_SKIP() << "no AVX2 on this CPU";
  EXPECT_NE(t->dot[DType::kF32], nullptr);
  EXPECT_NE(t->dot[DType::kQ8_0], nullptr);
  EXPECT_EQ(t->dot[DType::kQ4_0], nullptr);  // no kernel: callers take the reference
  EXPECT_NE(t->dequant[DType::kF8E4M3], nullptr);
  EXPECT_EQ(t->dequant[DType::kF32], nullptr);
  const Int8Table* i = int8_table(Isa::kAvx2);
  ASSERT_NE(i, nullptr);
  for (DType d : {DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) EXPECT_NE(i->matmul[d], nullptr) << dtype_name(d);
  EXPECT_EQ(i->matmul[DType::kF32], nullptr);
}

TEST(Dispatch, IsaNames) {
  EXPECT_EQ(std::string(isa_name(Isa::kScalar)), "scalar");
  EXPECT_EQ(std::string(isa_name(Isa::kAvx2)), "avx2");
  EXPECT_EQ(std::string(isa_name(Isa::kAvx512)), "avx512");
  EXPECT_EQ(std::string(isa_name(Isa::kAvx512Vnni)), "avx512vnni");
}

}  // namespace
}  // namespace dseek::kernels
