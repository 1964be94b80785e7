// AVX2 + FMA + F16C row dot products: f32, f16, bf16, q8_0 weights against f32
// activations (k-quants use the reference path on AVX2-only CPUs for now).
//
// Canonical order (see dot_row_avx512.cpp): each kernel equals dot_f32 on the
// dequantised row — element i goes to accumulator (i/8)%4 within 32-element
// chunks, a partial chunk 8 at a time into accumulator 0, the last n%8
// elements into a scalar FMA chain, then hsum((a0+a1)+(a2+a3)) + tail.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/cpu/dot_row.h"

namespace dseek::kernels {
namespace {

struct Acc {
  __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  __m128 tail = _mm_setzero_ps();
  template <int K>  // compile-time index keeps the accumulators in registers
  void add(__m256 w, __m256 x) { a[K] = _mm256_fmadd_ps(w, x, a[K]); }
  void add_scalar(float w, float x) { tail = _mm_fmadd_ss(_mm_set_ss(w), _mm_set_ss(x), tail); }
  float sum() const {
    const __m256 v = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(_mm_add_ss(t, _mm_movehdup_ps(t)), tail));
  }
};

float dot_f32(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const float*>(row);
  Acc acc;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc.add<0>(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i));
    acc.add<1>(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8));
    acc.add<2>(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16));
    acc.add<3>(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= n; i += 8) acc.add<0>(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i));
  for (; i < n; ++i) acc.add_scalar(w[i], x[i]);
  return acc.sum();
}

// One row against T activation vectors, each pair in dot_f32's exact order
// (same accumulators, same tail chain, same reduction): the same bits, with
// each weight load reused T times. AVX2 has 16 registers: 3 x 4 accumulators.
template <int T>
void dot_f32_tile(const float* w, const float* const* x, int64_t n, float* out, int64_t out_stride) {
  Acc acc[T];
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m256 wv = _mm256_loadu_ps(w + i + 8 * k);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m256 xv = _mm256_loadu_ps(x[t] + i + 8 * k);
        if (k == 0) acc[t].template add<0>(wv, xv);
        else if (k == 1) acc[t].template add<1>(wv, xv);
        else if (k == 2) acc[t].template add<2>(wv, xv);
        else acc[t].template add<3>(wv, xv);
      }
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = _mm256_loadu_ps(w + i);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t].template add<0>(wv, _mm256_loadu_ps(x[t] + i));
  }
  for (; i < n; ++i)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t].add_scalar(w[i], x[t][i]);
  // Unrolled like every loop over acc[]: an indexed loop keeps the accumulators in memory.
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) out[t * out_stride] = acc[t].sum();
}

// out[r * n_x + t] = dot_f32(w[r], x[t]): activations in tiles of 24 (reused
// from L1 across all rows), rows one at a time against 3 vectors.
void dot_f32_many(const float* const* w, int64_t n_rows, const float* const* x, int64_t n_x, int64_t n, float* out) {
  for (int64_t t0 = 0; t0 < n_x; t0 += 24) {
    const int64_t nt = std::min<int64_t>(24, n_x - t0);
    for (int64_t r = 0; r < n_rows; ++r) {
      float* o = out + r * n_x + t0;
      int64_t t = 0;
      for (; t + 3 <= nt; t += 3) dot_f32_tile<3>(w[r], x + t0 + t, n, o + t, 1);
      if (nt - t == 2) dot_f32_tile<2>(w[r], x + t0 + t, n, o + t, 1);
      else if (nt - t == 1) dot_f32_tile<1>(w[r], x + t0 + t, n, o + t, 1);
    }
  }
}

template <bool kBf16>
float dot_half(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  auto widen = [](__m128i h) {
    if constexpr (kBf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    else return _mm256_cvtph_ps(h);
  };
  Acc acc;
  int64_t i = 0;
  auto ld = [&](int64_t j) { return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + j))); };
  for (; i + 32 <= n; i += 32) {
    acc.add<0>(ld(i), _mm256_loadu_ps(x + i));
    acc.add<1>(ld(i + 8), _mm256_loadu_ps(x + i + 8));
    acc.add<2>(ld(i + 16), _mm256_loadu_ps(x + i + 16));
    acc.add<3>(ld(i + 24), _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= n; i += 8) acc.add<0>(ld(i), _mm256_loadu_ps(x + i));
  for (; i < n; ++i) acc.add_scalar(kBf16 ? bf16_to_f32(w[i]) : f16_to_f32(w[i]), x[i]);
  return acc.sum();
}

float dot_q8_0(const std::byte* row, const float* x, int64_t n) {
  Acc acc;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const std::byte* blk = row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const __m256 d = _mm256_set1_ps(f16_to_f32(d16));
    const auto* qs = reinterpret_cast<const uint8_t*>(blk + 2);
    auto w8 = [&](int k) {
      int64_t eight;
      std::memcpy(&eight, qs + 8 * k, 8);
      return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(eight))), d);
    };
    const float* xb = x + b * kQK8_0;  // a 32-element block is one whole chunk
    acc.add<0>(w8(0), _mm256_loadu_ps(xb));
    acc.add<1>(w8(1), _mm256_loadu_ps(xb + 8));
    acc.add<2>(w8(2), _mm256_loadu_ps(xb + 16));
    acc.add<3>(w8(3), _mm256_loadu_ps(xb + 24));
  }
  return acc.sum();
}

template <bool kBf16>
void dequant_half(const std::byte* row, float* out, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i));
    _mm256_storeu_ps(out + i, kBf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) out[i] = kBf16 ? bf16_to_f32(w[i]) : f16_to_f32(w[i]);
}

void dequant_q8_0(const std::byte* row, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const std::byte* blk = row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const __m256 d = _mm256_set1_ps(f16_to_f32(d16));
    for (int k = 0; k < 4; ++k) {
      int64_t eight;
      std::memcpy(&eight, blk + 2 + 8 * k, 8);
      _mm256_storeu_ps(out + b * kQK8_0 + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(eight))), d));
    }
  }
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

// E4M3 -> f32, exactly fp8_e4m3_to_f32 (see dot_row_avx512.cpp); the last
// n % 8 values go through a copy of the same arithmetic on one lane.
__m256 f8_lanes(__m256i v) {
  const __m256i low7 = _mm256_set1_epi32(0x7F);
  const __m256i em = _mm256_and_si256(v, low7);
  __m256 r = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(em, 20), _mm256_set1_epi32(120 << 23)));
  const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(em), _mm256_set1_ps(0x1p-9f));
  r = _mm256_blendv_ps(r, sub, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(8), em)));
  r = _mm256_blendv_ps(r, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000)), _mm256_castsi256_ps(_mm256_cmpeq_epi32(em, low7)));
  return _mm256_or_ps(r, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_andnot_si256(low7, v), 24)));
}

void dequant_f8_e4m3(const std::byte* row, float* out, int64_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(row);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int64_t eight;
    std::memcpy(&eight, p + i, 8);
    _mm256_storeu_ps(out + i, f8_lanes(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(eight))));
  }
  for (; i < n; ++i) _mm_store_ss(out + i, _mm256_castps256_ps128(f8_lanes(_mm256_set1_epi32(p[i]))));
}

// NH heads x one 8-float column chunk (full chunks only; the tail is scalar fma).
template <int NH>
void weighted_chunk(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t i, float* out,
                    int64_t dim) {
  __m256 acc[NH];
#pragma GCC unroll 8
  for (int h = 0; h < NH; ++h) acc[h] = _mm256_setzero_ps();
  for (int64_t s = 0; s < n_rows; ++s) {
    const __m256 r = _mm256_loadu_ps(rows[s] + i);
    const float* ps = p + s * n_out;
#pragma GCC unroll 8
    for (int h = 0; h < NH; ++h) acc[h] = _mm256_fmadd_ps(_mm256_set1_ps(ps[h]), r, acc[h]);
  }
#pragma GCC unroll 8
  for (int h = 0; h < NH; ++h) _mm256_storeu_ps(out + h * dim + i, acc[h]);
}

void weighted_rows_f32(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim, float* out) {
  for (int64_t h0 = 0; h0 < n_out;) {
    const int nh = n_out - h0 >= 8 ? 8 : 1;
    int64_t i = 0;
    for (; i + 8 <= dim; i += 8) {
      if (nh == 8) weighted_chunk<8>(p + h0, n_rows, n_out, rows, i, out + h0 * dim, dim);
      else weighted_chunk<1>(p + h0, n_rows, n_out, rows, i, out + h0 * dim, dim);
    }
    for (; i < dim; ++i)
      for (int h = 0; h < nh; ++h) {
        float a = 0.0f;
        for (int64_t s = 0; s < n_rows; ++s) a = std::fma(p[s * n_out + h0 + h], rows[s][i], a);
        out[(h0 + h) * dim + i] = a;
      }
    h0 += nh;
  }
}

double stream_sum_f64(const double* a, int64_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_add_pd(s0, _mm256_loadu_pd(a + i));
    s1 = _mm256_add_pd(s1, _mm256_loadu_pd(a + i + 4));
    s2 = _mm256_add_pd(s2, _mm256_loadu_pd(a + i + 8));
    s3 = _mm256_add_pd(s3, _mm256_loadu_pd(a + i + 12));
  }
  const __m256d v = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
  double lanes[4];
  _mm256_storeu_pd(lanes, v);
  double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) s += a[i];
  return s;
}

}  // namespace

DotRowTable dot_row_table_avx2() {
  DotRowTable t;
  t.isa = Isa::kAvx2;
  t.dot[DType::kF32] = dot_f32;
  t.axpy = axpy_f32;
  t.stream_sum = stream_sum_f64;
  t.weighted_rows = weighted_rows_f32;
  t.f32_many = dot_f32_many;
  t.dot[DType::kF16] = dot_half<false>;
  t.dot[DType::kBF16] = dot_half<true>;
  t.dot[DType::kQ8_0] = dot_q8_0;
  t.dequant[DType::kF16] = dequant_half<false>;
  t.dequant[DType::kBF16] = dequant_half<true>;
  t.dequant[DType::kQ8_0] = dequant_q8_0;
  t.dequant[DType::kF8E4M3] = dequant_f8_e4m3;
  return t;
}

}  // namespace dseek::kernels
