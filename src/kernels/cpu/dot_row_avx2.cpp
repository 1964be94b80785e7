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
#include "kernels/cpu/f32_kernels.h"
#include "kernels/cpu/vec_avx2.h"

namespace dseek::kernels {
namespace {

struct Acc {
  __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  Avx2::Tail tail;
  template <int K>  // compile-time index keeps the accumulators in registers
  void add(__m256 w, __m256 x) { a[K] = _mm256_fmadd_ps(w, x, a[K]); }
  void add_scalar(float w, float x) { Avx2::tail_fmadd(tail, w, x); }
  float sum() const { return Avx2::sum(a, tail); }
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

template <bool kBf16>
float dot_half(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  auto ld = [&](int64_t j) {
    const __m128i h = Avx2::load_half(w + j);
    return kBf16 ? Avx2::widen_bf16(h) : Avx2::widen_f16(h);
  };
  Acc acc;
  int64_t i = 0;
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

}  // namespace

DotRowTable dot_row_table_avx2() {
  DotRowTable t;
  t.isa = Isa::kAvx2;
  add_f32_kernels<Avx2>(t);
  t.dot[DType::kF32] = dot_f32;
  t.dot[DType::kF16] = dot_half<false>;
  t.dot[DType::kBF16] = dot_half<true>;
  t.dot[DType::kQ8_0] = dot_q8_0;
  t.dequant[DType::kQ8_0] = dequant_q8_0;
  return t;
}

}  // namespace dseek::kernels
