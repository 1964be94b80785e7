// The q4_1 / q5_0 / q5_1 writers: what they write dequantises (through the
// bit-exact ggml dequantisers) to within half a level step of the input, plus
// the f16 rounding of the block's offset (q5_0: a whole step, as q4_0, for
// values of the other sign than the largest, whose end level 16 is clipped
// to 15), and the RMS error is what a uniform 4- or 5-bit grid over the
// block's range gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernels.h"

namespace dseek::kernels {
namespace {

struct Case {
  DType type;
  float levels;    // level steps across a block's range (q5_0: its max magnitude spans 16 steps)
  float max_steps;  // the largest error, in level steps
  double max_rel_rms;
};

TEST(QuantizeSimple, RoundTripErrorWithinHalfALevel) {
  std::mt19937 rng(19);
  std::normal_distribution<float> normal(0.3f, 1.0f);  // an offset: q4_1 / q5_1 keep it in m
  const int64_t n = 32 * 64;
  std::vector<float> x(static_cast<size_t>(n)), y(x.size());
  for (auto& v : x) v = normal(rng);
  for (const Case& c : {Case{DType::kQ4_1, 15, 0.5f, 0.12}, Case{DType::kQ5_1, 31, 0.5f, 0.06},
                       Case{DType::kQ5_0, 16, 1.0f, 0.07}}) {
    SCOPED_TRACE(std::string(dtype_name(c.type)));
    ASSERT_TRUE(can_quantize(c.type));
    std::vector<std::byte> q(*dtype_bytes(c.type, n));
    quantize_row(c.type, x.data(), q.data(), n);
    dequantize_row(c.type, q.data(), y.data(), n);
    double err2 = 0, sig2 = 0;
    for (int64_t b = 0; b < n; b += 32) {
      const auto [lo, hi] = std::minmax_element(x.begin() + b, x.begin() + b + 32);
      const float amax = std::max(std::fabs(*lo), std::fabs(*hi));
      const float step = c.type == DType::kQ5_0 ? amax / c.levels : (*hi - *lo) / c.levels;
      for (int64_t i = b; i < b + 32; ++i) {
        const float e = std::fabs(x[static_cast<size_t>(i)] - y[static_cast<size_t>(i)]);
        ASSERT_LE(e, c.max_steps * step * 1.01f + 2e-3f * amax) << "element " << i;  // f16 d and m round by 2^-11
        err2 += static_cast<double>(e) * e;
        sig2 += static_cast<double>(x[static_cast<size_t>(i)]) * x[static_cast<size_t>(i)];
      }
    }
    EXPECT_LT(std::sqrt(err2 / sig2), c.max_rel_rms);
  }
}

TEST(QuantizeSimple, ConstantAndZeroBlocksAreExact) {
  std::vector<float> x(64, 0.0f), y(64);
  std::fill(x.begin() + 32, x.end(), 0.75f);  // one zero block, one constant block (exact in f16)
  for (DType t : {DType::kQ4_1, DType::kQ5_1}) {
    std::vector<std::byte> q(*dtype_bytes(t, 64));
    quantize_row(t, x.data(), q.data(), 64);
    dequantize_row(t, q.data(), y.data(), 64);
    EXPECT_EQ(x, y) << dtype_name(t);
  }
}

}  // namespace
}  // namespace dseek::kernels
