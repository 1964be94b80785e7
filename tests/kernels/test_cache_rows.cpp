// The cache-row encodings of --cache-type (kernels/cache_rows.h): the fast
// entry points give the scalar references' bits (random rows, signed zeros,
// NaN, huge and tiny values), bf16 rounds to nearest even, fp8 keeps each
// part's largest value in range with E4M3's relative error, and f32 is a copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cache_rows.h"
#include "kernels/ref/cache_rows_ref.h"

namespace dseek::kernels {
namespace {

constexpr int64_t kLat = 37, kRope = 8;  // odd total: the last float slot is part-filled
constexpr KvCacheType kTypes[] = {KvCacheType::kF32, KvCacheType::kBf16, KvCacheType::kFp8};

std::vector<float> random_row(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(kLat + kRope);
  for (int64_t i = 0; i < kLat; ++i) x[i] = g(rng);
  for (int64_t i = kLat; i < kLat + kRope; ++i) x[i] = 40.0f * g(rng);  // k_rope: another magnitude
  return x;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(CacheRows, FastEntryPointsGiveTheReferenceBits) {
  for (uint32_t seed = 0; seed < 20; ++seed) {
    std::vector<float> x = random_row(seed);
    if (seed == 1) x[0] = -0.0f, x[1] = std::numeric_limits<float>::quiet_NaN(), x[2] = 3e38f, x[3] = 1e-40f;
    for (KvCacheType t : kTypes) {
      const size_t slots = static_cast<size_t>(cache_row_floats(t, kLat, kRope));
      std::vector<float> fast(slots, 0.0f), ref(slots, 0.0f);
      encode_cache_row(t, x.data(), kLat, kRope, fast.data());
      encode_cache_row_ref(t, x.data(), kLat, kRope, ref.data());
      EXPECT_TRUE(same_bits(fast, ref)) << kv_cache_type_name(t) << " encode, seed " << seed;
      std::vector<float> y_fast(x.size()), y_ref(x.size());
      decode_cache_row(t, ref.data(), kLat, kRope, y_fast.data());
      decode_cache_row_ref(t, ref.data(), kLat, kRope, y_ref.data());
      EXPECT_TRUE(same_bits(y_fast, y_ref)) << kv_cache_type_name(t) << " decode, seed " << seed;
    }
  }
}

TEST(CacheRows, SizesAndF32IsACopy) {
  EXPECT_EQ(cache_row_floats(KvCacheType::kF32, 512, 64), 576);
  EXPECT_EQ(cache_row_floats(KvCacheType::kBf16, 512, 64), 288);
  EXPECT_EQ(cache_row_floats(KvCacheType::kFp8, 512, 64), 2 + 144);
  const std::vector<float> x = random_row(3);
  std::vector<float> row(x.size()), y(x.size());
  encode_cache_row(KvCacheType::kF32, x.data(), kLat, kRope, row.data());
  decode_cache_row(KvCacheType::kF32, row.data(), kLat, kRope, y.data());
  EXPECT_TRUE(same_bits(x, y));
}

TEST(CacheRows, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: even (1). 1 + 3·2^-8: halfway, even is 1 + 2^-6.
  const float x[2] = {1.0f + std::ldexp(1.0f, -8), 1.0f + 3 * std::ldexp(1.0f, -8)};
  float row[1], y[2];
  encode_cache_row(KvCacheType::kBf16, x, 1, 1, row);
  decode_cache_row(KvCacheType::kBf16, row, 1, 1, y);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 1.0f + std::ldexp(1.0f, -6));
  const std::vector<float> r = random_row(5);
  std::vector<float> enc(static_cast<size_t>(cache_row_floats(KvCacheType::kBf16, kLat, kRope))), dec(r.size());
  encode_cache_row(KvCacheType::kBf16, r.data(), kLat, kRope, enc.data());
  decode_cache_row(KvCacheType::kBf16, enc.data(), kLat, kRope, dec.data());
  for (size_t i = 0; i < r.size(); ++i) EXPECT_LE(std::fabs(dec[i] - r[i]), std::fabs(r[i]) * std::ldexp(1.0f, -8));
}

TEST(CacheRows, Fp8ScalesEachPartToItsOwnRange) {
  const std::vector<float> x = random_row(9);
  std::vector<float> row(static_cast<size_t>(cache_row_floats(KvCacheType::kFp8, kLat, kRope))), y(x.size());
  encode_cache_row(KvCacheType::kFp8, x.data(), kLat, kRope, row.data());
  decode_cache_row(KvCacheType::kFp8, row.data(), kLat, kRope, y.data());
  float amax_lat = 0, amax_rope = 0;
  for (int64_t i = 0; i < kLat; ++i) amax_lat = std::max(amax_lat, std::fabs(x[i]));
  for (int64_t i = kLat; i < kLat + kRope; ++i) amax_rope = std::max(amax_rope, std::fabs(x[i]));
  EXPECT_FLOAT_EQ(row[0], amax_lat / 448.0f);
  EXPECT_FLOAT_EQ(row[1], amax_rope / 448.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    const float scale = row[i < kLat ? 0 : 1];
    // E4M3: 3 mantissa bits (relative half-step 2^-4), subnormal step 2^-9 of the scale.
    EXPECT_LE(std::fabs(y[i] - x[i]), std::fabs(x[i]) / 16 + scale * std::ldexp(1.0f, -10) * 1.01f) << i;
  }
  const float zeros[4] = {};
  float zrow[3], zy[4];
  encode_cache_row(KvCacheType::kFp8, zeros, 2, 2, zrow);
  decode_cache_row(KvCacheType::kFp8, zrow, 2, 2, zy);
  EXPECT_EQ(zrow[0], 1.0f) << "an all-zero part gets scale 1";
  for (float v : zy) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace dseek::kernels
