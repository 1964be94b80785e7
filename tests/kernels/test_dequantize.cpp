// Block-quant dequantisation against hand-built blocks decoded by independent
// float64 readers written from the format descriptions (not from our kernel),
// plus quantise->dequantise error bounds and FP8 128x128 block scales.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/kernels.h"

namespace dseek {
namespace {

std::vector<float> dequant(DType t, const void* block, int n) {
  std::vector<float> out(static_cast<size_t>(n));
  kernels::dequantize_row(t, block, out.data(), n);
  return out;
}

TEST(Dequantize, Q8_0HandComputed) {
  BlockQ8_0 b{};
  b.d = 0x3800;  // 0.5
  for (int i = 0; i < 32; ++i) b.qs[i] = static_cast<int8_t>(i * 8 - 128);
  const auto y = dequant(DType::kQ8_0, &b, 32);
  EXPECT_EQ(y[0], -64.0f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[31], 60.0f);  // (31*8-128)*0.5
}

TEST(Dequantize, Q4_0HandComputed) {
  BlockQ4_0 b{};
  b.d = 0x4000;  // 2.0
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequant(DType::kQ4_0, &b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 2.0f) << j;            // low nibbles: elements 0..15
    EXPECT_EQ(y[j + 16], (7 - j) * 2.0f) << j + 16;  // high nibbles: elements 16..31
  }
}

// The 6-bit scale/min of sub-block j, read as the k-quant layout is documented:
// bytes 0-3 / 4-7 hold scales / mins 0-3 in their low 6 bits; for 4-7 the low
// 4 bits sit in bytes 8-11 (scale low nibble, min high nibble) and the top 2
// bits in the top bits of bytes 0-3 (scales) and 4-7 (mins).
void doc_scale_min(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] % 64;
    *m = s[4 + j] % 64;
  } else {
    *sc = (s[8 + j - 4] % 16) + 16 * (s[j - 4] / 64);
    *m = (s[8 + j - 4] / 16) + 16 * (s[4 + j - 4] / 64);
  }
}

// Fills a 12-byte scales array with distinct patterns in all the bit fields.
void pattern_scales(uint8_t* s) {
  const uint8_t v[12] = {0x41, 0x93, 0x05, 0xFF, 0x27, 0xC8, 0x3A, 0x6B, 0x5E, 0xA1, 0x07, 0xF0};
  std::memcpy(s, v, 12);
}

TEST(Dequantize, Q4_KMatchesDocumentedLayout) {
  BlockQ4_K b{};
  b.d = f32_to_f16(0.25f);
  b.dmin = f32_to_f16(0.125f);
  pattern_scales(b.scales);
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i * 37 + 11) & 0xFF);
  const auto y = dequant(DType::kQ4_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64, w = e % 64;
    const uint8_t byte = b.qs[32 * chunk + w % 32];
    const int q = w < 32 ? byte & 15 : byte >> 4;
    int sc, m;
    doc_scale_min(b.scales, 2 * chunk + (w >= 32), &sc, &m);
    const double want = 0.25 * sc * q - 0.125 * m;
    ASSERT_NEAR(y[static_cast<size_t>(e)], want, 1e-6) << e;
  }
}

TEST(Dequantize, Q5_KMatchesDocumentedLayout) {
  BlockQ5_K b{};
  b.d = f32_to_f16(0.5f);
  b.dmin = f32_to_f16(0.25f);
  pattern_scales(b.scales);
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i * 53 + 7) & 0xFF);
  for (int i = 0; i < 32; ++i) b.qh[i] = static_cast<uint8_t>((i * 97 + 3) & 0xFF);
  const auto y = dequant(DType::kQ5_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64, w = e % 64, l = w % 32;
    const uint8_t byte = b.qs[32 * chunk + l];
    const int high_bit = (b.qh[l] >> (2 * chunk + (w >= 32))) & 1;  // bit 2c for the low half, 2c+1 for the high
    const int q = (w < 32 ? byte & 15 : byte >> 4) + 16 * high_bit;
    int sc, m;
    doc_scale_min(b.scales, 2 * chunk + (w >= 32), &sc, &m);
    ASSERT_NEAR(y[static_cast<size_t>(e)], 0.5 * sc * q - 0.25 * m, 1e-6) << e;
  }
}

TEST(Dequantize, Q6_KMatchesDocumentedLayout) {
  BlockQ6_K b{};
  b.d = f32_to_f16(0.125f);
  for (int i = 0; i < 128; ++i) b.ql[i] = static_cast<uint8_t>((i * 29 + 5) & 0xFF);
  for (int i = 0; i < 64; ++i) b.qh[i] = static_cast<uint8_t>((i * 71 + 13) & 0xFF);
  for (int i = 0; i < 16; ++i) b.scales[i] = static_cast<int8_t>(i * 9 - 70);
  const auto y = dequant(DType::kQ6_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    // 128-element halves; within one, quarter k = w/32 takes ql[l + 32*(k&1)]'s
    // low (k<2) or high nibble and bits 2k..2k+1 of qh[l].
    const int half = e / 128, w = e % 128, k = w / 32, l = w % 32;
    const uint8_t lo_byte = b.ql[64 * half + l + 32 * (k & 1)];
    const int lo = k < 2 ? lo_byte & 15 : lo_byte >> 4;
    const int hi = (b.qh[32 * half + l] >> (2 * k)) & 3;
    const double want = 0.125 * b.scales[e / 16] * ((lo | (hi << 4)) - 32);
    ASSERT_NEAR(y[static_cast<size_t>(e)], want, 1e-6) << e;
  }
}

// Quantise random rows and check every element comes back within the type's step.
class QuantRoundTrip : public ::testing::TestWithParam<std::pair<DType, double>> {};

TEST_P(QuantRoundTrip, ErrorWithinBound) {
  const auto [type, rel_bound] = GetParam();
  const int n = 1024;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  std::vector<std::byte> q(*dtype_bytes(type, n));
  kernels::quantize_row(type, x.data(), q.data(), n);
  std::vector<float> y(n);
  kernels::dequantize_row(type, q.data(), y.data(), n);
  double max_abs = 0, max_err = 0;
  for (int i = 0; i < n; ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(x[i])));
    max_err = std::max(max_err, std::fabs(static_cast<double>(x[i]) - y[i]));
  }
  EXPECT_LE(max_err, rel_bound * max_abs) << dtype_name(type);
  EXPECT_GT(max_abs, 0);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantRoundTrip,
                         ::testing::Values(std::pair{DType::kF16, 1e-3}, std::pair{DType::kBF16, 8e-3},
                                           std::pair{DType::kF8E4M3, 0.07}, std::pair{DType::kQ8_0, 0.01},
                                           std::pair{DType::kQ4_0, 0.15}, std::pair{DType::kQ4_K, 0.15},
                                           std::pair{DType::kQ5_K, 0.08}, std::pair{DType::kQ6_K, 0.04},
                                           std::pair{DType::kQ2_K, 0.3}, std::pair{DType::kQ3_K, 0.25},
                                           std::pair{DType::kIQ4_NL, 0.1}, std::pair{DType::kIQ4_XS, 0.1}));

TEST(Fp8BlockScales, EachBlockUsesItsOwnScale) {
  // 130 x 260 weight: blocks are 2 x 3 (edge blocks partial, as in DeepSeek-V3's format).
  const int64_t rows = 130, cols = 260;
  std::vector<uint8_t> w(static_cast<size_t>(rows * cols), 0x38);  // every weight 1.0
  const float scales[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  std::vector<float> out(cols);
  kernels::dequantize_fp8_block_row(w.data(), scales, rows, cols, 0, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[127], 1.0f);
  EXPECT_EQ(out[128], 2.0f);
  EXPECT_EQ(out[259], 3.0f);
  kernels::dequantize_fp8_block_row(w.data(), scales, rows, cols, 129, out.data());
  EXPECT_EQ(out[0], 4.0f);
  EXPECT_EQ(out[200], 5.0f);
  EXPECT_EQ(out[256], 6.0f);
}

}  // namespace
}  // namespace dseek
