// The per-ISA tables a kernel test can check on this CPU. ISAs this CPU lacks
// are recorded (test property "isas_not_checked" and a printed line), so a run
// says what it did not check; a test that checked nothing calls GTEST_SKIP.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/cpu/dispatch.h"

namespace dseek::kernels {

template <class Table>
struct IsaTable {
  const char* isa;  // display name
  const Table* table;
};

// The tables of `isas` (the ISAs that have a table of this kind) this CPU supports.
template <class Table>
std::vector<IsaTable<Table>> tables_here(std::initializer_list<Isa> isas, const Table* (*lookup)(Isa)) {
  std::vector<IsaTable<Table>> found;
  std::string missing;
  for (Isa isa : isas) {
    if (const Table* t = lookup(isa)) found.push_back({isa_name(isa), t});
    else missing += (missing.empty() ? "" : ",") + std::string(isa_name(isa));
  }
  if (!missing.empty()) {
    ::testing::Test::RecordProperty("isas_not_checked", missing);
    std::printf("not checked, this CPU lacks: %s\n", missing.c_str());
  }
  return found;
}

inline std::vector<IsaTable<DotRowTable>> row_tables_here() {
  return tables_here({Isa::kAvx2, Isa::kAvx512}, dot_row_table);
}
inline std::vector<IsaTable<Int8Table>> int8_tables_here() {
  return tables_here({Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni}, int8_table);
}

}  // namespace dseek::kernels
