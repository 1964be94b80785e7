// The GGUF types added for community DeepSeek files, where the quant zoo
// (tests/format/test_quant_zoo.cpp) cannot reach: MXFP4 against a float64
// decoding written from the OCP Microscaling spec (not in the zoo's ggml), the
// i-quant grids against checksums of ggml's tables (every entry, used or not),
// and the sign-parity rule.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/quant/blocks.h"
#include "core/quant/iq_grids.h"
#include "kernels/kernels.h"

namespace dseek {
namespace {

// OCP MX v1.0: E2M1 = sign, 2 exponent bits (bias 1), 1 mantissa bit;
// exponent 0 is subnormal (0 or 0.5). E8M0 = 2^(e-127), 0xFF = NaN.
double e2m1_spec(int code) {
  const double sign = code & 8 ? -1.0 : 1.0;
  const int exp = (code >> 1) & 3, mant = code & 1;
  const double mag = exp == 0 ? 0.5 * mant : std::ldexp(1.0 + 0.5 * mant, exp - 1);
  return sign * mag;
}

double e8m0_spec(int e) { return e == 0xFF ? NAN : std::ldexp(1.0, e - 127); }

TEST(QuantFormats, Mxfp4MatchesTheSpecForEveryScaleAndCode) {
  std::vector<BlockMxfp4> blocks(256);
  for (int e = 0; e < 256; ++e) {
    blocks[static_cast<size_t>(e)].e = static_cast<uint8_t>(e);
    for (int j = 0; j < 16; ++j) blocks[static_cast<size_t>(e)].qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  }
  std::vector<float> y(256 * 32);
  kernels::dequantize_row(DType::kMXFP4, blocks.data(), y.data(), static_cast<int64_t>(y.size()));
  for (int e = 0; e < 256; ++e) {
    for (int k = 0; k < 32; ++k) {
      const int code = k < 16 ? k : 15 - (k - 16);
      const double want = e2m1_spec(code) * e8m0_spec(e);
      const float got = y[static_cast<size_t>(e * 32 + k)];
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << "e " << e << " code " << code;
      } else {
        EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(static_cast<float>(want)))
            << "e " << e << " code " << code;
      }
    }
  }
  EXPECT_EQ(dtype_from_ggml(39), DType::kMXFP4);
  EXPECT_EQ(dtype_bytes(DType::kMXFP4, 64), 34u);
}

template <class Word, size_t N>
uint64_t fnv1a(const std::array<Word, N>& grid) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (Word w : grid)
    for (size_t k = 0; k < sizeof(Word); ++k) h = (h ^ ((w >> (8 * k)) & 0xFF)) * 0x100000001b3ull;
  return h;
}

TEST(QuantFormats, GridsEqualGgmlTables) {
  // FNV-1a over each ggml table's bytes (ggml-common.h, little-endian entries).
  EXPECT_EQ(fnv1a(kIq2xxsGrid), 0xbb4ee025b5ac6e8eull);
  EXPECT_EQ(fnv1a(kIq2xsGrid), 0xc9b1ee61e79909bdull);
  EXPECT_EQ(fnv1a(kIq2sGrid), 0x123edd38a3b62b90ull);
  EXPECT_EQ(fnv1a(kIq3xxsGrid), 0xdfa5dc83d6a155d5ull);
  EXPECT_EQ(fnv1a(kIq3sGrid), 0xfa37020c25b44829ull);
  EXPECT_EQ(fnv1a(kIq1sGrid), 0x6703ed863501ae2eull);
}

TEST(QuantFormats, SignGroupsHaveEvenParity) {
  EXPECT_EQ(iq2_signs(0), 0);
  EXPECT_EQ(iq2_signs(1), 129);
  EXPECT_EQ(iq2_signs(3), 3);
  EXPECT_EQ(iq2_signs(127), 255);
  for (uint32_t s = 0; s < 128; ++s) EXPECT_EQ(std::popcount(static_cast<unsigned>(iq2_signs(s))) % 2, 0);
}

TEST(QuantFormats, WhichTypesCanBeWritten) {
  for (DType t : {DType::kIQ2_XXS, DType::kMXFP4, DType::kTQ1_0, DType::kIQ1_S}) {
    EXPECT_FALSE(kernels::can_quantize(t)) << dtype_name(t);
    EXPECT_TRUE(dtype_traits(t).is_float);
  }
  for (DType t : {DType::kQ4_K, DType::kQ2_K, DType::kQ3_K, DType::kIQ4_NL, DType::kIQ4_XS, DType::kQ4_1, DType::kQ5_0,
                  DType::kQ5_1})
    EXPECT_TRUE(kernels::can_quantize(t)) << dtype_name(t);
}

}  // namespace
}  // namespace dseek
