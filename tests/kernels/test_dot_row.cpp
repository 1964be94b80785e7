// Every SIMD row-dot kernel this CPU supports against a float64 dot of the
// scalar-dequantised row, over a grid of lengths with odd tails; and the
// public matvec/matmul against matvec_ref, including batch invariance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/float_convert.h"
#include "kernels/kernels.h"
#include "kernels/ref/reference.h"
#include "kernels/isa_tables.h"

namespace dseek::kernels {
namespace {

std::vector<std::byte> random_row(DType t, int64_t n, std::mt19937& rng, std::vector<float>* deq) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(n));
  for (auto& v : w) v = normal(rng);
  std::vector<std::byte> q(*dtype_bytes(t, n));
  quantize_row(t, w.data(), q.data(), n);
  deq->resize(static_cast<size_t>(n));
  dequantize_row(t, q.data(), deq->data(), n);
  return q;
}

struct Case {
  DType dtype;
  std::vector<int64_t> lengths;
};

TEST(DotRow, EveryIsaAndTypeMatchesFloat64) {
  const Case cases[] = {
      {DType::kF32, {1, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100, 257, 1000}},
      {DType::kF16, {1, 7, 15, 16, 17, 31, 33, 64, 100, 257, 1000}},
      {DType::kBF16, {1, 7, 15, 16, 17, 31, 33, 64, 100, 257, 1000}},
      {DType::kQ8_0, {32, 64, 96, 256, 2048}},
      {DType::kQ4_K, {256, 512, 2048}},
      {DType::kQ6_K, {256, 512, 2048}},
  };
  int checked = 0;
  std::mt19937 rng(11);
  for (const auto& [isa, table] : row_tables_here()) {
    for (const auto& c : cases) {
      const DotRowFn fn = table->dot[c.dtype];
      if (!fn) continue;
      for (int64_t n : c.lengths) {
        std::vector<float> deq, x(static_cast<size_t>(n));
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (auto& v : x) v = normal(rng);
        const auto row = random_row(c.dtype, n, rng, &deq);
        double want = 0, mag = 0;
        for (int64_t i = 0; i < n; ++i) {
          want += static_cast<double>(deq[static_cast<size_t>(i)]) * x[static_cast<size_t>(i)];
          mag += std::fabs(static_cast<double>(deq[static_cast<size_t>(i)]) * x[static_cast<size_t>(i)]);
        }
        const float got = fn(row.data(), x.data(), n);
        EXPECT_NEAR(got, want, 1e-5 * mag + 1e-6) << isa << " " << dtype_name(c.dtype) << " n=" << n;
        // Canonical order: bit-identical to the same ISA's f32 dot over the reference dequantisation.
        EXPECT_EQ(got, table->dot[DType::kF32](reinterpret_cast<const std::byte*>(deq.data()), x.data(), n))
            << isa << " " << dtype_name(c.dtype) << " n=" << n;
        // The SIMD dequantiser gives exactly the reference's values.
        if (const DequantRowFn dq = table->dequant[c.dtype]) {
          std::vector<float> out(static_cast<size_t>(n));
          dq(row.data(), out.data(), n);
          EXPECT_EQ(out, deq) << isa << " dequant " << dtype_name(c.dtype) << " n=" << n;
        }
        ++checked;
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD row-dot kernels on this CPU";
  std::printf("dot_row: %d (isa, type, length) cases within 1e-5 relative of float64\n", checked);
}

TEST(DotRow, TiledManyEqualsPairwiseBitForBit) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int checked = 0;
  for (const auto& [isa, table] : row_tables_here()) {
    if (!table->f32_many) continue;
    ++checked;
    for (int64_t n : {1, 17, 64, 100, 1000}) {
      for (int64_t n_rows : {1, 2, 3, 5, 8}) {
        for (int64_t n_x : {1, 2, 3, 4, 7, 24, 25, 50}) {
          std::vector<std::vector<float>> w(static_cast<size_t>(n_rows)), x(static_cast<size_t>(n_x));
          std::vector<const float*> wp, xp;
          for (auto& v : w) {
            v.resize(static_cast<size_t>(n));
            for (auto& e : v) e = normal(rng);
            wp.push_back(v.data());
          }
          for (auto& v : x) {
            v.resize(static_cast<size_t>(n));
            for (auto& e : v) e = normal(rng);
            xp.push_back(v.data());
          }
          std::vector<float> out(static_cast<size_t>(n_rows * n_x), -1.0f);
          table->f32_many(wp.data(), n_rows, xp.data(), n_x, n, out.data());
          for (int64_t r = 0; r < n_rows; ++r)
            for (int64_t t = 0; t < n_x; ++t)
              ASSERT_EQ(out[static_cast<size_t>(r * n_x + t)],
                        table->dot[DType::kF32](reinterpret_cast<const std::byte*>(wp[static_cast<size_t>(r)]), xp[static_cast<size_t>(t)], n))
                  << isa << " n=" << n << " rows=" << n_rows << " x=" << n_x << " at " << r << "," << t;
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD tiled f32 kernel on this CPU";
}

TEST(MatvecT, TransposedProductMatchesFloat64AndSplitsExactly) {
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K, DType::kQ4_0}) {
    const int64_t rows = 13, cols = 256;
    std::vector<std::byte> data;
    std::vector<std::vector<float>> deq(rows);
    for (int64_t r = 0; r < rows; ++r) {
      auto row = random_row(t, cols, rng, &deq[static_cast<size_t>(r)]);
      data.insert(data.end(), row.begin(), row.end());
    }
    const MatrixView m = make_matrix(t, data.data(), rows, cols);
    std::vector<float> x(static_cast<size_t>(rows));
    for (auto& v : x) v = normal(rng);
    std::vector<float> y(static_cast<size_t>(cols), 0.5f), y_split(y);
    matvec_t_accumulate(m, x.data(), y.data(), 0, rows);
    matvec_t_accumulate(m, x.data(), y_split.data(), 0, 6);  // rows in two calls: the same sums in the same order
    matvec_t_accumulate(m, x.data(), y_split.data(), 6, rows);
    for (int64_t c = 0; c < cols; ++c) {
      double want = 0.5;
      for (int64_t r = 0; r < rows; ++r) want += static_cast<double>(x[static_cast<size_t>(r)]) * deq[static_cast<size_t>(r)][static_cast<size_t>(c)];
      EXPECT_NEAR(y[static_cast<size_t>(c)], want, 1e-4 * (1 + std::fabs(want))) << dtype_name(t);
      EXPECT_EQ(y[static_cast<size_t>(c)], y_split[static_cast<size_t>(c)]) << dtype_name(t);
    }
  }
}

TEST(Matmul, BatchAndSplitInvariantAndCloseToReference) {
  std::mt19937 rng(5);
  for (DType t : {DType::kF32, DType::kBF16, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K, DType::kQ5_K, DType::kQ4_0}) {
    const int64_t rows = 37, cols = 512, n_tok = 27;  // 27: token tiles of 3 and a row block remainder
    std::vector<std::byte> data;
    std::vector<float> deq;
    for (int64_t r = 0; r < rows; ++r) {
      auto row = random_row(t, cols, rng, &deq);
      data.insert(data.end(), row.begin(), row.end());
    }
    const MatrixView m = make_matrix(t, data.data(), rows, cols);
    std::vector<float> x(static_cast<size_t>(n_tok * cols));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& v : x) v = normal(rng);
    std::vector<float> y16(static_cast<size_t>(n_tok * rows)), y1(static_cast<size_t>(rows)), yref(static_cast<size_t>(rows));
    matmul(m, x.data(), cols, n_tok, y16.data(), rows, 0, rows);
    for (int64_t tok : {0, 5, 15, 26}) {
      // One token alone, split into two row ranges: bitwise the same as in the batch of 27.
      matvec(m, x.data() + tok * cols, y1.data(), 0, 20);
      matvec(m, x.data() + tok * cols, y1.data(), 20, rows);
      matvec_ref(m, x.data() + tok * cols, yref.data(), 0, rows);
      for (int64_t r = 0; r < rows; ++r) {
        ASSERT_EQ(y1[static_cast<size_t>(r)], y16[static_cast<size_t>(tok * rows + r)]) << dtype_name(t);
        EXPECT_NEAR(y1[static_cast<size_t>(r)], yref[static_cast<size_t>(r)], 1e-3) << dtype_name(t);
      }
    }
  }
}

}  // namespace
}  // namespace dseek::kernels

namespace dseek::kernels {
namespace {

// axpy: every ISA equals the scalar fused multiply-add bit for bit at every
// length (vector bodies and tails), and the float64 sum within one rounding.
TEST(Axpy, EveryIsaEqualsTheFusedScalarReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const auto& [isa, table] : row_tables_here()) {
    if (!table->axpy) continue;
    for (int64_t n : {0, 1, 7, 8, 15, 16, 17, 33, 64, 100, 512, 515}) {
      std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
      for (auto& v : x) v = nd(rng);
      for (auto& v : y) v = nd(rng);
      const float a = nd(rng);
      std::vector<float> want = y, got = y;
      axpy_ref(a, x.data(), want.data(), n);
      table->axpy(a, x.data(), got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)]) << isa << " n=" << n << " i=" << i;
        const double exact = static_cast<double>(a) * x[static_cast<size_t>(i)] + y[static_cast<size_t>(i)];
        ASSERT_NEAR(want[static_cast<size_t>(i)], exact, 1e-6 * (1 + std::abs(exact)));
      }
    }
  }
  std::vector<float> x = {1, 2, 3}, y = {1, 1, 1};
  axpy(2.0f, x.data(), y.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{3, 5, 7}));
}

// weighted_sum_rows: every ISA equals the scalar reference (n_rows axpy
// calls per head) bit for bit, for head counts that exercise each register
// tile and its remainders and lengths with tails; the reference is within
// float rounding of a float64 sum.
TEST(WeightedSumRows, EveryIsaEqualsAxpyPerHead) {
  std::mt19937 rng(12);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  int checked = 0;
  for (const auto& [isa, table] : row_tables_here()) {
    if (!table->weighted_rows) continue;
    for (int64_t n_out : {1, 3, 4, 8, 12, 16, 17, 24, 33})
      for (int64_t dim : {1, 7, 16, 33, 64, 576})
        for (int64_t n_rows : {1, 5, 40}) {
          std::vector<float> data(static_cast<size_t>(n_rows * (dim + 3))), p(static_cast<size_t>(n_rows * n_out));
          for (auto& v : data) v = nd(rng);
          for (auto& v : p) v = std::abs(nd(rng));
          std::vector<const float*> rows;
          for (int64_t s = 0; s < n_rows; ++s) rows.push_back(data.data() + s * (dim + 3) + s % 3);  // odd strides and offsets
          std::vector<float> want(static_cast<size_t>(n_out * dim), -7.0f), got(want);
          weighted_sum_rows_ref(p.data(), n_rows, n_out, rows.data(), dim, want.data());
          table->weighted_rows(p.data(), n_rows, n_out, rows.data(), dim, got.data());
          ASSERT_EQ(got, want) << isa << " n_out=" << n_out << " dim=" << dim << " n_rows=" << n_rows;
          for (int64_t h = 0; h < n_out; ++h)
            for (int64_t i = 0; i < dim; ++i) {
              double exact = 0, mag = 0;
              for (int64_t s = 0; s < n_rows; ++s) {
                exact += static_cast<double>(p[static_cast<size_t>(s * n_out + h)]) * rows[static_cast<size_t>(s)][i];
                mag += std::abs(static_cast<double>(p[static_cast<size_t>(s * n_out + h)]) * rows[static_cast<size_t>(s)][i]);
              }
              ASSERT_NEAR(want[static_cast<size_t>(h * dim + i)], exact, 1e-6 * n_rows * (1 + mag));
            }
          ++checked;
        }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD weighted_sum_rows on this CPU";
  std::printf("weighted_sum_rows: %d (isa, shape) cases equal the reference\n", checked);
}

// dot_many: each pair bit-equal to dot() (attention scores keep decode's bits in prefill).
TEST(DotMany, EveryPairEqualsDot) {
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t n : {1, 15, 64, 100, 512})
    for (int64_t na : {1, 2, 3, 7})
      for (int64_t nb : {1, 4, 8, 16, 25}) {
        std::vector<float> a(static_cast<size_t>(na * n)), b(static_cast<size_t>(nb * n));
        for (auto& v : a) v = nd(rng);
        for (auto& v : b) v = nd(rng);
        std::vector<const float*> pa, pb;
        for (int64_t i = 0; i < na; ++i) pa.push_back(a.data() + i * n);
        for (int64_t j = 0; j < nb; ++j) pb.push_back(b.data() + j * n);
        std::vector<float> out(static_cast<size_t>(na * nb));
        dot_many(pa.data(), na, pb.data(), nb, n, out.data());
        for (int64_t i = 0; i < na; ++i)
          for (int64_t j = 0; j < nb; ++j)
            ASSERT_EQ(out[static_cast<size_t>(i * nb + j)], dot(pa[static_cast<size_t>(i)], pb[static_cast<size_t>(j)], n))
                << "n=" << n << " i=" << i << " j=" << j;
      }
}

// FP8 E4M3: every ISA's converter gives fp8_e4m3_to_f32's bits for all 256
// codes (signed zeros, subnormals, 448, the NaN code), at every tail length.
TEST(Fp8, EveryIsaConvertsAllCodesExactly) {
  std::vector<uint8_t> codes(256 + 13);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(i * 37 + 5);
  for (int i = 0; i < 256; ++i) codes[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  int checked = 0;
  for (const auto& [isa, table] : row_tables_here()) {
    const DequantRowFn convert = table->dequant[DType::kF8E4M3];
    if (!convert) continue;
    for (int64_t n : {256 + 13, 256, 17, 8, 7, 1}) {
      std::vector<float> got(static_cast<size_t>(n), -3.0f);
      convert(reinterpret_cast<const std::byte*>(codes.data()), got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const float want = fp8_e4m3_to_f32(codes[static_cast<size_t>(i)]);
        uint32_t a, b;
        std::memcpy(&a, &got[static_cast<size_t>(i)], 4);
        std::memcpy(&b, &want, 4);
        ASSERT_EQ(a, b) << isa << " code 0x" << std::hex << int{codes[static_cast<size_t>(i)]};
      }
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD FP8 converter on this CPU";
  std::printf("fp8 converters: %d (isa, length) cases bit-exact\n", checked);
}

// FP8 weights with 128x128 block scales through matvec and matmul: each
// output is the active ISA's f32 dot of the reference-dequantised row (the
// canonical order of every fast path), for any token count and row split,
// and within float rounding of the float64 product.
TEST(Fp8, BlockScaledMatmulEqualsDotOfReferenceRows) {
  std::mt19937 rng(14);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t rows = 200, cols = 300;  // partial 128-blocks in both directions
  std::vector<uint8_t> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = f32_to_fp8_e4m3(nd(rng) * 50.0f);
  const int64_t rb = (rows + 127) / 128, cb = (cols + 127) / 128;
  std::vector<float> scales(static_cast<size_t>(rb * cb));
  for (auto& v : scales) v = std::ldexp(1.0f + std::abs(nd(rng)), -8);
  const MatrixView m = make_matrix(DType::kF8E4M3, w.data(), rows, cols, scales.data());
  std::vector<float> deq(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_fp8_block_row(w.data(), scales.data(), rows, cols, r, deq.data() + r * cols);
  const int64_t n_tok = 7;
  std::vector<float> x(static_cast<size_t>(n_tok * cols));
  for (auto& v : x) v = nd(rng);
  for (int64_t nt : {1, 2, 3, 4, 7}) {
    std::vector<float> y(static_cast<size_t>(nt * rows), -1.0f);
    matmul(m, x.data(), cols, nt, y.data(), rows, 0, 77);
    matmul(m, x.data(), cols, nt, y.data(), rows, 77, rows);
    for (int64_t t = 0; t < nt; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        const float want = dot(deq.data() + r * cols, x.data() + t * cols, cols);
        ASSERT_EQ(y[static_cast<size_t>(t * rows + r)], want) << "n_tok=" << nt << " t=" << t << " r=" << r;
        double exact = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) {
          exact += static_cast<double>(deq[static_cast<size_t>(r * cols + c)]) * x[static_cast<size_t>(t * cols + c)];
          mag += std::abs(static_cast<double>(deq[static_cast<size_t>(r * cols + c)]) * x[static_cast<size_t>(t * cols + c)]);
        }
        ASSERT_NEAR(want, exact, 1e-5 * (1 + mag));
      }
  }
}

// stream_sum (the bandwidth probe's loop): every ISA's sum of small integers
// is exact, so any dropped, doubled or misaligned element shows, tails included.
TEST(StreamSum, EveryIsaSumsEveryElementOnce) {
  for (const auto& [isa, table] : row_tables_here()) {
    if (!table->stream_sum) continue;
    for (int64_t n : {0, 1, 7, 15, 16, 31, 32, 33, 64, 100, 1000, 4099}) {
      std::vector<double> a(static_cast<size_t>(n));
      double want = 0;
      for (int64_t i = 0; i < n; ++i) want += a[static_cast<size_t>(i)] = static_cast<double>((i * 7919) % 97) - 40;
      EXPECT_EQ(table->stream_sum(a.data(), n), want) << isa << " n=" << n;
      if (n > 3) {
        EXPECT_EQ(table->stream_sum(a.data() + 3, n - 3), want - a[0] - a[1] - a[2]) << isa << " unaligned n=" << n;
      }
    }
  }
  const std::vector<double> a = {1, 2, 3, 4, 5};
  EXPECT_EQ(stream_sum(a.data(), 5), 15.0);
}

}  // namespace
}  // namespace dseek::kernels
