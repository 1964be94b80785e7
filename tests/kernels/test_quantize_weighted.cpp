// Importance-weighted quantisation (quantize_row_weighted, `quantize
// --imatrix`): with a skewed importance per column, the weighted writers of
// iq4_nl / iq4_xs / q2_K / q3_K give a lower importance-weighted error than the plain
// writers; without importance (or for types without a weighted writer) they
// are the plain writers byte for byte.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernels.h"

namespace dseek::kernels {
namespace {

// sum_c imp[c] * (x[c] - dequantised[c])^2 over a row quantised to t.
double weighted_error(DType t, const std::vector<std::byte>& q, const std::vector<float>& x, const std::vector<float>& imp) {
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(x.size()));
  double e = 0;
  for (size_t c = 0; c < x.size(); ++c) e += imp[c] * static_cast<double>(x[c] - y[c]) * (x[c] - y[c]);
  return e;
}

TEST(QuantizeWeighted, ImportanceLowersTheWeightedError) {
  std::mt19937 rng(31);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t cols = 1024, rows = 32;
  std::vector<float> imp(static_cast<size_t>(cols));
  for (auto& v : imp) v = std::exp(2.0f * normal(rng));  // a few columns matter far more than the rest
  for (DType t : {DType::kIQ4_NL, DType::kIQ4_XS, DType::kQ2_K, DType::kQ3_K}) {
    ASSERT_TRUE(has_weighted_writer(t));
    double plain = 0, weighted = 0;
    std::vector<float> x(static_cast<size_t>(cols));
    std::vector<std::byte> a(*dtype_bytes(t, cols)), b(a.size());
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : x) v = normal(rng);
      quantize_row(t, x.data(), a.data(), cols);
      quantize_row_weighted(t, x.data(), imp.data(), b.data(), cols);
      plain += weighted_error(t, a, x, imp);
      weighted += weighted_error(t, b, x, imp);
    }
    std::printf("%s: importance-weighted error %.4g plain, %.4g weighted (%.1f%% lower)\n",
                std::string(dtype_name(t)).c_str(), plain, weighted, 100 * (1 - weighted / plain));
    EXPECT_LT(weighted, 0.97 * plain) << dtype_name(t);
  }
}

TEST(QuantizeWeighted, WithoutImportanceOrWeightedWriterItIsThePlainWriter) {
  std::mt19937 rng(32);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(512), imp(512, 1.0f);
  for (auto& v : x) v = normal(rng);
  for (DType t : {DType::kIQ4_XS, DType::kQ4_K, DType::kQ2_K}) {
    std::vector<std::byte> a(*dtype_bytes(t, 512)), b(a.size());
    quantize_row(t, x.data(), a.data(), 512);
    quantize_row_weighted(t, x.data(), has_weighted_writer(t) ? nullptr : imp.data(), b.data(), 512);
    EXPECT_EQ(a, b) << dtype_name(t);
  }
}

}  // namespace
}  // namespace dseek::kernels
