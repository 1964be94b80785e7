// The int8-activation path (matmul_q8): every ISA's kernels against the scalar
// int8 reference bit for bit, over shapes with odd row counts, odd block
// counts and token tails; batch and row-split invariance; and the distance to
// a float64 dot with unquantised activations, within the bound activation
// rounding allows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/float_convert.h"
#include "kernels/int8_decode/decoded_row.h"
#include "kernels/kernels.h"
#include "kernels/ref/reference.h"
#include "kernels/isa_tables.h"

namespace dseek::kernels {
namespace {

struct Weights {
  std::vector<std::byte> data;
  std::vector<float> deq;  // [rows][cols], the reference dequantisation
  MatrixView view;
};

// Byte offsets of a block's f16 scales (the rest of a random block is any bits).
std::vector<int> f16_fields(DType t) {
  switch (t) {
    case DType::kQ4_1: case DType::kQ5_1: return {0, 2};
    case DType::kQ2_K: return {80, 82};
    case DType::kQ3_K: return {108};
    case DType::kTQ1_0: return {52};
    case DType::kTQ2_0: return {64};
    case DType::kIQ1_M: case DType::kMXFP4: return {};
    default: return {0};
  }
}

// Random blocks of a decoded-row type: random bits with sane scales (no
// inf / NaN: those would make the bit comparison meaningless).
void random_blocks(DType t, std::byte* p, uint64_t bytes, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  const int64_t bsize = dtype_traits(t).type_size;
  for (uint64_t i = 0; i < bytes; ++i) p[i] = std::byte(byte(rng));
  for (uint64_t b = 0; b < bytes; b += static_cast<uint64_t>(bsize)) {
    std::byte* blk = p + b;
    for (int off : f16_fields(t)) {
      const uint16_t h = f32_to_f16(scale(rng) * (off == 2 && t != DType::kQ2_K ? -1.0f : 1.0f));
      std::memcpy(blk + off, &h, 2);
    }
    if (t == DType::kMXFP4) blk[0] = std::byte(118 + byte(rng) % 4);  // 2^-9 .. 2^-6, the others' range
    if (t == DType::kIQ1_M) {  // the f16 scale spread over the scale words' top nibbles
      const uint16_t h = f32_to_f16(scale(rng));
      for (int k = 0; k < 4; ++k) {
        auto& hi = reinterpret_cast<uint8_t&>(blk[32 + 16 + 2 * k + 1]);
        hi = static_cast<uint8_t>((hi & 0x0F) | (((h >> (4 * k)) & 0xF) << 4));
      }
    }
  }
}

// Random rows quantised to t. For q8_0, some quants are forced to -128 (legal
// in the format though our quantiser never writes it) to cover the sign paths.
Weights random_weights(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Weights w;
  const uint64_t row_bytes = *dtype_bytes(t, cols);
  w.data.resize(row_bytes * static_cast<uint64_t>(rows));
  std::vector<float> f(static_cast<size_t>(cols));
  if (decoded_format(t)) {
    random_blocks(t, w.data.data(), w.data.size(), rng);
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : f) v = normal(rng) * (r % 3 == 0 ? 0.01f : 1.0f);
      quantize_row(t, f.data(), w.data.data() + r * row_bytes, cols);
    }
  }
  if (t == DType::kQ8_0)
    for (size_t i = 2; i < w.data.size(); i += 97)
      if (i % 34 >= 2) w.data[i] = std::byte{0x80};
  w.deq.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t, w.data.data() + r * row_bytes, w.deq.data() + r * cols, cols);
  w.view = make_matrix(t, w.data.data(), rows, cols);
  return w;
}

// Normal activations with an outlier per 100 values and an all-zero block (d = 0).
std::vector<float> random_acts(int64_t n_tok, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tok * cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng) * (i % 100 == 7 ? 30.0f : 1.0f);
  if (cols >= 64)
    for (int64_t i = 32; i < 64; ++i) x[static_cast<size_t>(i)] = 0.0f;
  return x;
}

QuantizedActs quantize(const std::vector<float>& x, int64_t n_tok, int64_t cols) {
  QuantizedActs q;
  q.resize(n_tok, cols);
  quantize_activations(x.data(), cols, q, 0, n_tok);
  return q;
}

struct Shape {
  DType dtype;
  std::vector<int64_t> cols;
};
const Shape kShapes[] = {
    {DType::kQ8_0, {32, 64, 96, 160, 1408, 1440}},  // 1, 2, 3, 5, 44, 45 blocks
    {DType::kQ4_K, {256, 512, 768, 2048}},
    {DType::kQ6_K, {256, 512, 768, 2048}},
    // The decoded-row types (int8_decode/decoded_row.h): 32-blocks with partial groups, then the 256-blocks.
    {DType::kQ4_1, {32, 96, 160, 1440}},
    {DType::kQ5_0, {32, 96, 160, 1440}},
    {DType::kQ5_1, {32, 96, 160, 1440}},
    {DType::kIQ4_NL, {32, 96, 160, 1440}},
    {DType::kMXFP4, {32, 96, 160, 1440}},
    {DType::kQ2_K, {256, 768}},
    {DType::kQ3_K, {256, 768}},
    {DType::kIQ4_XS, {256, 768}},
    {DType::kIQ2_XXS, {256, 768}},
    {DType::kIQ2_XS, {256, 768}},
    {DType::kIQ2_S, {256, 768}},
    {DType::kIQ3_XXS, {256, 768}},
    {DType::kIQ3_S, {256, 768}},
    {DType::kIQ1_S, {256, 768}},
    {DType::kIQ1_M, {256, 768}},
    {DType::kTQ1_0, {256, 768}},
    {DType::kTQ2_0, {256, 768}},
};

TEST(Int8Dot, EveryIsaEqualsScalarReferenceBitForBit) {
  std::mt19937 rng(21);
  int checked = 0;
  for (const auto& [isa, table] : int8_tables_here()) {
    // Rows and tokens around the tile sizes: GEMV tiles of 4 (or 2) rows x up to 4
    // tokens, lanes-of-rows GEMM tiles of 2 x 16 rows x 4 tokens from 6 tokens on.
    for (const Shape& sh : kShapes)
      for (int64_t cols : sh.cols)
        for (int64_t rows : {1, 3, 4, 7, 13, 16, 20, 33})
          for (int64_t n_tok : {1, 2, 3, 4, 5, 6, 7, 9, 17}) {
            const Weights w = random_weights(sh.dtype, rows, cols, rng);
            const QuantizedActs q = quantize(random_acts(n_tok, cols, rng), n_tok, cols);
            std::vector<float> want(static_cast<size_t>(n_tok * rows), -1.0f), got(want);
            matmul_q8_ref(w.view, q, want.data(), rows, 0, rows);
            table->matmul[sh.dtype](w.view, q, got.data(), rows, 0, rows);
            ASSERT_EQ(got, want) << isa << " " << dtype_name(sh.dtype) << " cols=" << cols << " rows=" << rows
                                 << " n_tok=" << n_tok;
            ++checked;
          }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD int8 kernels on this CPU";
  std::printf("int8 dot: %d (isa, type, shape) cases equal the scalar reference\n", checked);
}

// Models of every quantised type but q4_0 / q5_K (kept on the f32 path, their files' logits unchanged) take the int8 path.
TEST(Int8Dot, EveryDecodedTypeTakesTheInt8Path) {
  std::vector<std::byte> row(4096);
  for (const Shape& sh : kShapes) EXPECT_TRUE(uses_int8_path(make_matrix(sh.dtype, row.data(), 1, 256))) << dtype_name(sh.dtype);
  EXPECT_FALSE(uses_int8_path(make_matrix(DType::kF32, row.data(), 1, 256)));
}

TEST(Int8Dot, BatchAndRowSplitInvariant) {
  std::mt19937 rng(22);
  for (const Shape& sh : kShapes) {
    const int64_t rows = 23, cols = sh.cols.back(), n_tok = 17;
    const Weights w = random_weights(sh.dtype, rows, cols, rng);
    const std::vector<float> x = random_acts(n_tok, cols, rng);
    const QuantizedActs all = quantize(x, n_tok, cols);
    std::vector<float> y(static_cast<size_t>(n_tok * rows));
    matmul_q8(w.view, all, y.data(), rows, 0, rows);
    for (int64_t t = 0; t < n_tok; ++t) {
      // Token t alone, its rows in two uneven ranges: the bits it had in the batch of 17.
      const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
      const QuantizedActs one = quantize(xt, 1, cols);
      std::vector<float> y1(static_cast<size_t>(rows));
      matmul_q8(w.view, one, y1.data(), rows, 0, 9);
      matmul_q8(w.view, one, y1.data(), rows, 9, rows);
      for (int64_t r = 0; r < rows; ++r)
        ASSERT_EQ(y1[static_cast<size_t>(r)], y[static_cast<size_t>(t * rows + r)]) << dtype_name(sh.dtype) << " t=" << t;
    }
  }
}

// Rounding x to d*q moves each value by at most d/2 (plus a few ulps of d from
// the f32 scale and product), so |int8 - exact| <= sum_i |w_i| * 0.5001 * d(block of i)
// + f32 accumulation error, which stays below 1e-5 of sum |w_i x_i| at these lengths.
TEST(Int8Dot, CloseToFloat64WithUnquantisedActivationsWithinRoundingBound) {
  std::mt19937 rng(23);
  double worst_ratio = 0;
  std::map<int, double> stat_err, stat_rms;
  for (const Shape& sh : kShapes)
    for (int64_t cols : sh.cols) {
      const int64_t rows = 9, n_tok = 3;
      const Weights w = random_weights(sh.dtype, rows, cols, rng);
      const std::vector<float> x = random_acts(n_tok, cols, rng);
      const QuantizedActs q = quantize(x, n_tok, cols);
      std::vector<float> y(static_cast<size_t>(n_tok * rows));
      matmul_q8(w.view, q, y.data(), rows, 0, rows);
      for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0, bound = 0, mag = 0, rms_sq = 0;
          for (int64_t c = 0; c < cols; ++c) {
            const double wv = w.deq[static_cast<size_t>(r * cols + c)], xv = x[static_cast<size_t>(t * cols + c)];
            want += wv * xv;
            mag += std::fabs(wv * xv);
            bound += std::fabs(wv) * 0.5001 * q.d_of(t)[c / kActBlock];
            rms_sq += wv * wv * q.d_of(t)[c / kActBlock] * q.d_of(t)[c / kActBlock] / 12;
          }
          const double err = std::fabs(y[static_cast<size_t>(t * rows + r)] - want);
          stat_err[static_cast<int>(sh.dtype)] += err * err;
          stat_rms[static_cast<int>(sh.dtype)] += rms_sq;
          EXPECT_LE(err, bound + 1e-5 * mag + 1e-6) << dtype_name(sh.dtype) << " cols=" << cols;
          if (bound > 0) worst_ratio = std::max(worst_ratio, err / bound);
        }
    }
  std::printf("int8 dot: worst error / rounding bound = %.3f\n", worst_ratio);
  // The typical error should be the rounding noise itself (uniform, d^2/12 per value): ratio ~1.
  for (auto& [k, v] : stat_err) {
    const double ratio = std::sqrt(v / stat_rms[k]);
    std::printf("int8 dot %s: rms error / rms of rounding noise = %.3f\n", std::string(dtype_name(static_cast<DType>(k))).c_str(), ratio);
    EXPECT_LT(ratio, 1.5);
  }
}

TEST(Int8Dot, EveryIsaQuantisesActivationsExactlyAsTheReference) {
  std::mt19937 rng(25);
  int checked = 0;
  for (const auto& [isa, table] : int8_tables_here()) {
    if (!table->quantize) continue;
    ++checked;
    for (int64_t cols : {32, 96, 2048}) {
      const int64_t n_tok = 5;
      std::vector<float> x = random_acts(n_tok, cols, rng);
      // Token 1's first block: amax 127 (scale 1) and exact halves, so every value is a rounding tie.
      for (int64_t i = 0; i < kActBlock; ++i) x[static_cast<size_t>(cols + i)] = static_cast<float>(i - 16) + 0.5f;
      x[static_cast<size_t>(cols)] = 127.0f;
      QuantizedActs want, got;
      want.resize(n_tok, cols);
      got.resize(n_tok, cols);
      quantize_activations_ref(x.data(), cols, want, 0, n_tok);
      table->quantize(x.data(), cols, got, 1, n_tok);  // token 0 left as resize() made it: only the range is written
      table->quantize(x.data(), cols, got, 0, 1);
      EXPECT_EQ(got.qs, want.qs) << isa;
      EXPECT_EQ(got.d, want.d) << isa;
      EXPECT_EQ(got.dsum, want.dsum) << isa;
      EXPECT_EQ(got.neg32, want.neg32) << isa;
      EXPECT_EQ(got.neg32h, want.neg32h) << isa;
      EXPECT_EQ(got.neg128, want.neg128) << isa;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD activation quantiser on this CPU";
}

TEST(Int8Dot, QuantisedActivationsFollowTheirDefinition) {
  std::mt19937 rng(24);
  const int64_t cols = 96;
  const std::vector<float> x = random_acts(2, cols, rng);
  const QuantizedActs q = quantize(x, 2, cols);
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t b = 0; b < cols / kActBlock; ++b) {
      float amax = 0;
      int32_t sum = 0;
      for (int64_t i = 0; i < kActBlock; ++i) {
        const int64_t c = b * kActBlock + i;
        amax = std::max(amax, std::fabs(x[static_cast<size_t>(t * cols + c)]));
        sum += q.qs_of(t)[c];
        EXPECT_LE(std::abs(int{q.qs_of(t)[c]}), 127);
        if (i % 4 == 0) {
          const int8_t* g = q.qs_of(t) + c;
          EXPECT_EQ(q.neg32_of(t)[c / 4], -32 * (g[0] + g[1] + g[2] + g[3]));
        }
        if (i % 16 == 0) {
          int32_t h = 0;
          for (int j = 0; j < 16; ++j) h += q.qs_of(t)[c + j];
          EXPECT_EQ(q.neg32h_of(t)[c / 16], -32 * h);
        }
      }
      EXPECT_EQ(q.neg128_of(t)[b], -128 * sum);
      EXPECT_EQ(q.d_of(t)[b], amax / 127.0f);
      EXPECT_EQ(q.dsum_of(t)[b], q.d_of(t)[b] * static_cast<float>(sum));
    }
}

// The peak probe counts what it runs: 12 chains x the ISA's multiply-adds per
// step (64 per 512-bit dot, 32 per 256-bit one) x 2 operations, per round;
// the active path's entry point is the active table's, and 0 rounds are 0.
TEST(Int8Dot, PeakProbeCountsItsOperations) {
  bool any = false;
  for (const auto& [isa, ops_per_step] : {std::pair<Isa, double>{Isa::kAvx2, 64}, {Isa::kAvx512, 128}, {Isa::kAvx512Vnni, 128}}) {
    const Int8Table* table = int8_table(isa);
    if (!table) continue;
    any = true;
    ASSERT_NE(table->peak_probe, nullptr) << isa_name(isa);
    EXPECT_EQ(table->peak_probe(1000), 12 * ops_per_step * 1000) << isa_name(isa);
  }
  if (!any) GTEST_SKIP() << "no SIMD int8 path on this CPU";
  EXPECT_EQ(int8_peak_probe(777), backend().int8.peak_probe(777));
  EXPECT_EQ(int8_peak_probe(0), 0.0);
}

}  // namespace
}  // namespace dseek::kernels
