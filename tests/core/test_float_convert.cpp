// f16 / bf16 / FP8-E4M3 conversions against values computed by hand and an
// independent float64 formula for each format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/float_convert.h"

namespace dseek {
namespace {

// Independent decoders from the format definitions (sign, exponent bias, mantissa).
double ref_f16(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  const double sign = s ? -1.0 : 1.0;
  if (e == 0) return sign * m * std::pow(2.0, -24);
  if (e == 31) return m ? NAN : sign * INFINITY;
  return sign * (1.0 + m / 1024.0) * std::pow(2.0, e - 15);
}

double ref_e4m3(uint8_t v) {
  const int s = v >> 7, e = (v >> 3) & 15, m = v & 7;
  const double sign = s ? -1.0 : 1.0;
  if (e == 15 && m == 7) return NAN;
  if (e == 0) return sign * (m / 8.0) * std::pow(2.0, -6);
  return sign * (1.0 + m / 8.0) * std::pow(2.0, e - 7);
}

TEST(Float16, HandPickedValues) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7C00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
}

TEST(Float16, EveryCodeDecodesLikeTheFormulaAndRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const double want = ref_f16(static_cast<uint16_t>(h));
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
      continue;
    }
    ASSERT_EQ(static_cast<double>(got), want) << "code " << h;
    ASSERT_EQ(f32_to_f16(got), h) << "code " << h;
  }
}

TEST(Float16, RoundsToNearestEven) {
  const float one = 1.0f, ulp = std::ldexp(1.0f, -10);
  EXPECT_EQ(f32_to_f16(one + ulp / 2), 0x3C00);           // tie -> even (1.0)
  EXPECT_EQ(f32_to_f16(one + 3 * ulp / 2), 0x3C02);       // tie -> even (1 + 2 ulp)
  EXPECT_EQ(f32_to_f16(one + ulp / 2 + ulp / 8), 0x3C01);  // above the tie -> up
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);                // rounds past max -> inf
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);   // half the smallest subnormal: tie -> 0
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -26)), 0x0001);
}

TEST(BFloat16, RoundTripAndRounding) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC0A0), -5.0f);
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = bf16_to_f32(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), b);
  }
  const float tie = std::bit_cast<float>(0x3F808000u);  // halfway between 0x3F80 and 0x3F81
  EXPECT_EQ(f32_to_bf16(tie), 0x3F80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(Fp8E4M3, EdgeValues) {
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0xB8), -1.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x7E), 448.0f);   // max finite
  EXPECT_EQ(fp8_e4m3_to_f32(0xFE), -448.0f);
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7F)));  // S.1111.111 is NaN; no infinities
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0xFF)));
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));   // smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), std::ldexp(1.0f, -6));   // smallest normal
  EXPECT_EQ(fp8_e4m3_to_f32(0x78), 256.0f);                 // 0x78: exponent 15 is finite in e4m3fn
  EXPECT_TRUE(std::signbit(fp8_e4m3_to_f32(0x80)));
}

TEST(Fp8E4M3, EveryCodeMatchesFormulaAndRoundTrips) {
  for (int v = 0; v < 256; ++v) {
    const double want = ref_e4m3(static_cast<uint8_t>(v));
    const float got = fp8_e4m3_to_f32(static_cast<uint8_t>(v));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got));
      continue;
    }
    ASSERT_EQ(static_cast<double>(got), want) << v;
    if (v != 0x80) { ASSERT_EQ(f32_to_fp8_e4m3(got), v) << v; }  // -0 encodes as 0x80 too
  }
}

TEST(Fp8E4M3, EncodeSaturatesAndRoundsToEven) {
  EXPECT_EQ(f32_to_fp8_e4m3(1000.0f), 0x7E);
  EXPECT_EQ(f32_to_fp8_e4m3(-1e30f), 0xFE);
  EXPECT_EQ(f32_to_fp8_e4m3(NAN), 0x7F);
  EXPECT_EQ(f32_to_fp8_e4m3(1.0625f), 0x38);  // halfway 1.0 / 1.125 -> even mantissa (1.0)
  EXPECT_EQ(f32_to_fp8_e4m3(1.1875f), 0x3A);  // halfway 1.125 / 1.25 -> even (1.25)
  EXPECT_EQ(f32_to_fp8_e4m3(std::ldexp(1.0f, -11)), 0x00);  // below half the smallest subnormal
}

}  // namespace
}  // namespace dseek
