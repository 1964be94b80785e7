// AVX2 + FMA + F16C row dot products: f32, f16, bf16, q8_0 weights against f32
// activations (k-quants use the reference path on AVX2-only CPUs for now).
// Compiled with -mavx2 -mfma -mf16c.
#include <immintrin.h>

#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/cpu/dot_row.h"

namespace dseek::kernels {
namespace {

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

float dot_f32(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const float*>(row);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
  float tail = 0.0f;
  for (; i < n; ++i) tail += w[i] * x[i];
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + tail;
}

template <bool kBf16>
float dot_half(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  auto widen = [](__m128i h) {
    if constexpr (kBf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    else return _mm256_cvtph_ps(h);
  };
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i))), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i + 8))), _mm256_loadu_ps(x + i + 8), a1);
  }
  float tail = 0.0f;
  for (; i < n; ++i) tail += (kBf16 ? bf16_to_f32(w[i]) : f16_to_f32(w[i])) * x[i];
  return hsum(_mm256_add_ps(a0, a1)) + tail;
}

float dot_q8_0(const std::byte* row, const float* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK8_0; ++b, x += kQK8_0) {
    const std::byte* blk = row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const auto* qs = reinterpret_cast<const uint8_t*>(blk + 2);
    __m256 s = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      int64_t eight;
      std::memcpy(&eight, qs + 8 * k, 8);
      const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(eight)));
      s = _mm256_fmadd_ps(q, _mm256_loadu_ps(x + 8 * k), s);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_to_f32(d16)), s, acc);
  }
  return hsum(acc);
}

}  // namespace

DotRowTable dot_row_table_avx2() {
  DotRowTable t;
  t.f32 = dot_f32;
  t.f16 = dot_half<false>;
  t.bf16 = dot_half<true>;
  t.q8_0 = dot_q8_0;
  t.isa = "avx2";
  return t;
}

}  // namespace dseek::kernels
