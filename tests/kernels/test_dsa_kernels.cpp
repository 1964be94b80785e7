// The lightning-indexer kernels (kernels.h "Sparse attention") against their
// definitions: FP8 E4M3 encoding (every code, ties to even, clamping), the
// ue8m0 block scale, the orthonormal Sylvester Hadamard rotation, the index
// score formula and top-k selection with its tie rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

TEST(DsaKernels, Fp8EveryFiniteCodeRoundTrips) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) continue;  // NaN
    const float v = fp8_e4m3_to_float(static_cast<uint8_t>(c));
    if (c == 0x80) {
      EXPECT_EQ(v, 0.0f);
      continue;
    }
    EXPECT_EQ(fp8_e4m3_from_float(v), c) << c << " = " << v;
  }
  EXPECT_EQ(fp8_e4m3_to_float(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_float(0x01), std::ldexp(1.0f, -9));  // the smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_float(0x08), std::ldexp(1.0f, -6));  // the smallest normal
}

TEST(DsaKernels, Fp8RoundsToNearestEvenAndClamps) {
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(1.0625f)), 1.0f);    // halfway 1 / 1.125: even mantissa 0
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(1.1875f)), 1.25f);   // halfway 1.125 / 1.25: even mantissa 2
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(1.07f)), 1.125f);
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(-3.1f)), -3.0f);
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(1000.0f)), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(-1000.0f)), -448.0f);
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(0.0019f)), std::ldexp(1.0f, -9));  // subnormal
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(15.5f)), 16.0f);  // 15 / 16 halfway: up to the next binade
}

TEST(DsaKernels, Ue8m0BlockScaleIsThePowerOfTwoAboveAmaxOver448) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 3.0f);
  std::vector<float> x(128);
  std::vector<uint8_t> q(128);
  for (float& v : x) v = g(rng);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  const float s = quantize_fp8_block_ue8m0(x.data(), 128, q.data());
  int e = 0;
  EXPECT_EQ(std::frexp(s, &e), 0.5f) << "a power of two";
  EXPECT_GE(s * 448.0f, amax);
  EXPECT_LT(s * 224.0f, amax);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_LE(std::fabs(fp8_e4m3_to_float(q[i]) * s - x[i]), std::fabs(x[i]) / 16 + s / 512);
  std::vector<float> zeros(128, 0.0f);
  EXPECT_EQ(quantize_fp8_block_ue8m0(zeros.data(), 128, q.data()), std::ldexp(1.0f, -22)) << "amax clamped to 1e-4: 2^ceil(log2(1e-4 / 448))";
}

TEST(DsaKernels, HadamardIsTheScaledSylvesterMatrix) {
  constexpr int n = 16;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = std::sin(1.0f + static_cast<float>(i));
  std::vector<float> y = x;
  hadamard_rotate(y.data(), n);
  for (int i = 0; i < n; ++i) {
    double want = 0;
    for (int j = 0; j < n; ++j) want += (std::popcount(static_cast<unsigned>(i & j)) % 2 ? -1.0 : 1.0) * x[j];
    EXPECT_NEAR(y[i], want / 4.0, 1e-6);
  }
  hadamard_rotate(y.data(), n);  // H / sqrt(n) is its own inverse
  for (int i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i], 1e-6);
}

TEST(DsaKernels, IndexScoreIsTheReluWeightedSumTimesKeyScale) {
  constexpr int64_t H = 2, D = 4;
  const float q[H * D] = {1, 2, 0, -1, -1, 0.5f, 0, 0};
  const float w[H] = {0.5f, 2.0f};
  // Key records: [scale | 4 E4M3 bytes] (one float of bytes).
  float rec[2][2] = {};
  const float k0[D] = {1, 1, 1, 1}, k1[D] = {-2, 0, 0, 0};
  for (int d = 0; d < D; ++d) {
    reinterpret_cast<uint8_t*>(&rec[0][1])[d] = fp8_e4m3_from_float(k0[d]);
    reinterpret_cast<uint8_t*>(&rec[1][1])[d] = fp8_e4m3_from_float(k1[d]);
  }
  rec[0][0] = 0.25f, rec[1][0] = 4.0f;
  const float* keys[2] = {rec[0], rec[1]};
  float out[2];
  dsa_index_scores(q, w, H, D, keys, 2, out);
  EXPECT_FLOAT_EQ(out[0], 0.25f * (2.0f * 0.5f + 0.0f));       // head 1: -0.5 -> ReLU 0
  EXPECT_FLOAT_EQ(out[1], 4.0f * (0.0f + 2.0f * 2.0f));         // head 0: -2 -> 0; head 1: 2
}

// The entry point (AVX-512 or dot_many over decoded keys) against the scalar reference
// on realistic shapes: the same sums in another order, so float-close.
TEST(DsaKernels, IndexScoresMatchTheScalarReference) {
  constexpr int64_t H = 64, D = 128, S = 37;
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> q(H * D), w(H), keys(S * (1 + D / 4));
  std::vector<uint8_t> q8(D);
  for (int64_t h = 0; h < H; ++h) {
    std::vector<float> v(D);
    for (float& x : v) x = g(rng);
    quantize_fp8_block_ue8m0(v.data(), D, q8.data());
    for (int64_t d = 0; d < D; ++d) q[h * D + d] = fp8_e4m3_to_float(q8[d]);
    w[h] = g(rng) * 1e-3f;
  }
  std::vector<const float*> rec(S);
  for (int64_t s = 0; s < S; ++s) {
    std::vector<float> v(D);
    for (float& x : v) x = g(rng);
    float* r = keys.data() + s * (1 + D / 4);
    r[0] = quantize_fp8_block_ue8m0(v.data(), D, reinterpret_cast<uint8_t*>(r + 1));
    rec[s] = r;
  }
  std::vector<float> got(S), want(S);
  dsa_index_scores(q.data(), w.data(), H, D, rec.data(), S, got.data());
  dsa_index_scores_ref(q.data(), w.data(), H, D, rec.data(), S, want.data());
  for (int64_t s = 0; s < S; ++s) EXPECT_NEAR(got[s], want[s], 1e-5 * (std::fabs(want[s]) + 1e-3)) << s;
}

TEST(DsaKernels, TopKPositionsAscendingAndEarlierWinsTies) {
  const float s[8] = {0.5f, 3.0f, 1.0f, 3.0f, -1.0f, 1.0f, 7.0f, 1.0f};
  int32_t out[8], scratch[8];
  top_k_positions(s, 8, 4, out, scratch);
  EXPECT_EQ(std::vector<int32_t>(out, out + 4), (std::vector<int32_t>{1, 2, 3, 6}));  // 2 beats 5 and 7
  top_k_positions(s, 3, 8, out, scratch);  // k > n: all
  EXPECT_EQ(std::vector<int32_t>(out, out + 3), (std::vector<int32_t>{0, 1, 2}));
}

// Random E4M3 key records (scale + dim codes) and query heads as the indexer
// makes them: decoded E4M3 values of quantised normal draws.
struct IndexProblem {
  std::vector<float> q, w, storage;
  std::vector<const float*> keys;
  IndexProblem(int64_t H, int64_t D, int64_t S, uint32_t seed) : q(H * D), w(H), storage(S * (1 + D / 4)), keys(S) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> v(D);
    std::vector<uint8_t> q8(D);
    for (int64_t h = 0; h < H; ++h) {
      for (float& x : v) x = g(rng);
      quantize_fp8_block_ue8m0_ref(v.data(), D, q8.data());
      for (int64_t d = 0; d < D; ++d) q[h * D + d] = fp8_e4m3_to_float(q8[d]);
      w[h] = g(rng) * 1e-3f;
    }
    for (int64_t s = 0; s < S; ++s) {
      for (float& x : v) x = g(rng) * std::exp(g(rng));  // scales vary per key
      float* r = storage.data() + s * (1 + D / 4);
      r[0] = quantize_fp8_block_ue8m0_ref(v.data(), D, reinterpret_cast<uint8_t*>(r + 1));
      keys[s] = r;
    }
  }
};

// The SIMD score kernel keeps the bits of the portable entry: each (key, head)
// logit the active ISA's dot() of the decoded key and the head, the heads'
// ReLU terms summed in order (a multiply, then an add), times the key's scale.
TEST(DsaKernels, IndexScoresAreTheBitsOfTheHeadLoopOverDot) {
  for (const int64_t D : {64, 96, 128, 192}) {
    for (const int64_t S : {1, 16, 37}) {
      const int64_t H = 64;
      IndexProblem p(H, D, S, static_cast<uint32_t>(D + S));
      std::vector<float> got(S), row(D);
      dsa_index_scores(p.q.data(), p.w.data(), H, D, p.keys.data(), S, got.data());
      for (int64_t s = 0; s < S; ++s) {
        const auto* k = reinterpret_cast<const uint8_t*>(p.keys[s] + 1);
        for (int64_t d = 0; d < D; ++d) row[d] = fp8_e4m3_to_float(k[d]);
        volatile float total = 0.0f;  // volatile: no contraction of the multiply and add into one FMA
        for (int64_t h = 0; h < H; ++h) {
          volatile float term = std::max(dot(row.data(), p.q.data() + h * D, D), 0.0f) * p.w[h];
          total = total + term;
        }
        EXPECT_EQ(std::bit_cast<uint32_t>(got[s]), std::bit_cast<uint32_t>(total * p.keys[s][0])) << D << " " << S << " " << s;
      }
    }
  }
}

TEST(DsaKernels, HadamardIsTheReferenceBitForBit) {
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 2.0f);
  for (const int64_t n : {1, 2, 8, 16, 32, 64, 128, 256, 512}) {
    std::vector<float> x(n);
    for (float& v : x) v = g(rng);
    std::vector<float> want = x;
    hadamard_rotate(x.data(), n);
    hadamard_rotate_ref(want.data(), n);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(std::bit_cast<uint32_t>(x[i]), std::bit_cast<uint32_t>(want[i])) << n << " " << i;
  }
}

// Values spread over E4M3's whole range after scaling (subnormals, every binade,
// the clamp), exact halfway points, zeros of both signs.
TEST(DsaKernels, Fp8BlockQuantiserIsTheReferenceBitForBit) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> e(-14.0f, 9.5f);
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t n = trial % 4 == 3 ? 48 : 128;
    std::vector<float> x(n);
    for (float& v : x) v = std::copysign(std::exp2(e(rng)), g(rng));
    x[0] = 448.0f * std::exp2(static_cast<float>(trial % 40 - 20));  // the amax: scale 2^(trial % 40 - 20)
    const float scale = std::exp2(static_cast<float>(trial % 40 - 20));
    x[1] = (1.0f + 1.0f / 16.0f) * scale, x[2] = -(1.0f + 3.0f / 16.0f) * scale, x[3] = 0.0f, x[4] = -0.0f;
    x[5] = 0x1p-10f * scale, x[6] = 0x3p-10f * scale, x[7] = 15.5f * scale, x[8] = 0x1.fcp-7f * scale;
    std::vector<uint8_t> got(n), want(n);
    const float s_got = quantize_fp8_block_ue8m0(x.data(), n, got.data());
    const float s_want = quantize_fp8_block_ue8m0_ref(x.data(), n, want.data());
    ASSERT_EQ(s_got, s_want) << trial;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << trial << " " << i << " " << x[i];
  }
}

// top_k_positions (a radix select) against the reference (nth_element with the
// tie rule) on random, heavily tied, signed-zero and constant scores.
TEST(DsaKernels, TopKIsTheReferenceSelectionOnRandomAndTiedScores) {
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_int_distribution<int> few(-3, 3);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t n = 1 + trial * 7 % 600, k = 1 + trial * 13 % (n + 3);
    std::vector<float> s(n);
    for (float& v : s) {
      switch (trial % 4) {
        case 0: v = g(rng); break;
        case 1: v = static_cast<float>(few(rng)) * 0.25f; break;  // many ties
        case 2: v = few(rng) == 0 ? (rng() % 2 ? -0.0f : 0.0f) : static_cast<float>(few(rng)); break;
        default: v = 1.5f;  // all tied
      }
    }
    std::vector<int32_t> got(n), want(n), scratch(n);
    top_k_positions(s.data(), n, k, got.data(), scratch.data());
    top_k_positions_ref(s.data(), n, k, want.data(), scratch.data());
    const int64_t m = std::min(k, n);
    EXPECT_EQ(std::vector<int32_t>(got.begin(), got.begin() + m), std::vector<int32_t>(want.begin(), want.begin() + m))
        << "trial " << trial << " n " << n << " k " << k;
  }
}

}  // namespace
}  // namespace dseek::kernels
