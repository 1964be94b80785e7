// The dtype traits table: ids, names and byte sizes, including overflow.
#include <gtest/gtest.h>

#include <limits>

#include "core/dtype.h"

namespace dseek {
namespace {

TEST(DType, GgmlIdsAndSizes) {
  EXPECT_EQ(dtype_from_ggml(0), DType::kF32);
  EXPECT_EQ(dtype_from_ggml(8), DType::kQ8_0);
  EXPECT_EQ(dtype_from_ggml(12), DType::kQ4_K);
  EXPECT_EQ(dtype_from_ggml(30), DType::kBF16);
  EXPECT_EQ(dtype_from_ggml(3), DType::kQ4_1);
  EXPECT_EQ(dtype_from_ggml(29), DType::kIQ1_M);
  EXPECT_FALSE(dtype_from_ggml(9).has_value());    // q8_1: an activation type, never stored
  EXPECT_FALSE(dtype_from_ggml(999).has_value());
  EXPECT_EQ(dtype_bytes(DType::kQ4_K, 512), 288u);
  EXPECT_EQ(dtype_bytes(DType::kQ6_K, 256), 210u);
  EXPECT_EQ(dtype_bytes(DType::kBF16, 3), 6u);
  EXPECT_FALSE(dtype_bytes(DType::kQ8_0, 33).has_value());  // not whole blocks
  EXPECT_FALSE(dtype_bytes(DType::kF64, std::numeric_limits<int64_t>::max()).has_value());
  EXPECT_FALSE(dtype_bytes(DType::kF32, -1).has_value());
}

TEST(DType, NamesRoundTrip) {
  for (int i = 0; i < kDTypeCount; ++i) {
    const auto t = static_cast<DType>(i);
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  }
  EXPECT_EQ(dtype_from_name("Q4_K"), DType::kQ4_K);
  EXPECT_EQ(dtype_from_safetensors("F8_E4M3"), DType::kF8E4M3);
  EXPECT_FALSE(dtype_from_safetensors("F8_E5M2").has_value());
}

}  // namespace
}  // namespace dseek
