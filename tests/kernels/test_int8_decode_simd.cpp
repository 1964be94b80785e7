// The SIMD decoders of every decoded-row type give the scalar decoders'
// integers and scales bit for bit, on random rows (any bits: NaN and inf
// scales included, which must convert identically too) of several widths.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/decode_compare.h"

namespace dseek::kernels {
namespace {

TEST(Int8DecodeSimd, EveryTypeMatchesTheScalarDecoderOnRandomRows) {
  const auto tables = decoder_tables_here();
  if (tables.empty()) GTEST_SKIP() << "this CPU has no SIMD decoders (AVX-512BW)";
  std::mt19937 rng(19);
  std::uniform_int_distribution<int> byte(0, 255);
  int checked = 0;
  for (const auto& [isa, table] : tables) {
    for (int i = 0; i < kDTypeCount; ++i) {
      const auto t = static_cast<DType>(i);
      if (!decoded_format(t)) continue;
      ASSERT_NE((*table)[t], nullptr) << isa << " has no decoder of " << dtype_name(t);
      for (int64_t cols : {256, 512, 2048, 7168}) {
        std::vector<std::byte> row(*dtype_bytes(t, cols));
        for (int rep = 0; rep < 4; ++rep) {
          for (auto& b : row) b = std::byte(byte(rng));
          expect_same_decode(t, (*table)[t], row.data(), cols,
                             std::string(isa) + " " + std::string(dtype_name(t)) + " cols " + std::to_string(cols));
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 17 * static_cast<int>(tables.size()));
}

}  // namespace
}  // namespace dseek::kernels
