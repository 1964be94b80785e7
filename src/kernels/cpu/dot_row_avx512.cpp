// AVX-512 (F/BW/VL/DQ + F16C) row dot products: f32, f16, bf16, q8_0, q4_K,
// q6_K weights against f32 activations.
//
// Canonical order: every kernel computes exactly dot_f32(dequantize(row), x) —
// weights are dequantised in registers with the reference's arithmetic, and
// element i is accumulated into accumulator (i/16)%4 within 64-element chunks,
// a trailing partial chunk 16 at a time into accumulator 0, then
// (a0+a1)+(a2+a3) is reduced. So a matmul may dequantise a row once and call
// dot_f32 for many tokens and get bit-identical results (batch invariance).
#include <immintrin.h>

#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/cpu/dot_row.h"

namespace dseek::kernels {
namespace {

struct Acc {
  __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  // Adds w*x for the 16 elements starting at element index i of a row of n.
  void add(int64_t i, int64_t n, __m512 w, __m512 x) {
    const int k = (i / 64) * 64 + 64 <= n ? static_cast<int>((i / 16) % 4) : 0;
    a[k] = _mm512_fmadd_ps(w, x, a[k]);
  }
  float sum() const { return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]))); }
};

inline __m512 u8_to_ps(__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)); }
inline __m512 s8_to_ps(__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)); }
inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1); }

float dot_f32(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const float*>(row);
  Acc acc;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int k = 0; k < 4; ++k)
      acc.a[k] = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16 * k), _mm512_loadu_ps(x + i + 16 * k), acc.a[k]);
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc.a[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), acc.a[0]);
  }
  return acc.sum();
}

template <bool kBf16>
float dot_half(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  auto widen = [](__m256i h) {
    if constexpr (kBf16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  };
  Acc acc;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int k = 0; k < 4; ++k)
      acc.a[k] = _mm512_fmadd_ps(widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16 * k))),
                                 _mm512_loadu_ps(x + i + 16 * k), acc.a[k]);
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc.a[0] = _mm512_fmadd_ps(widen(_mm256_maskz_loadu_epi16(m, w + i)), _mm512_maskz_loadu_ps(m, x + i), acc.a[0]);
  }
  return acc.sum();
}

float dot_q8_0(const std::byte* row, const float* x, int64_t n) {
  Acc acc;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const std::byte* blk = row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const __m512 d = _mm512_set1_ps(f16_to_f32(d16));
    const auto* qs = reinterpret_cast<const __m128i*>(blk + 2);
    const int64_t i = b * kQK8_0;
    acc.add(i, n, _mm512_mul_ps(s8_to_ps(_mm_loadu_si128(qs)), d), _mm512_loadu_ps(x + i));
    acc.add(i + 16, n, _mm512_mul_ps(s8_to_ps(_mm_loadu_si128(qs + 1)), d), _mm512_loadu_ps(x + i + 16));
  }
  return acc.sum();
}

// q4_K: value = (d*sc_j)*q - (dmin*m_j) per 32-element sub-block j.
float dot_q4_k(const std::byte* row, const float* x, int64_t n) {
  Acc acc;
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    BlockQ4_K blk;
    std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof(BlockQ4_K)), sizeof blk);
    const float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
    for (int j = 0; j < 8; ++j) {
      const uint8_t* q = blk.scales;
      uint8_t sc, m;
      if (j < 4) sc = q[j] & 63, m = q[j + 4] & 63;
      else sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
      const __m512 d1 = _mm512_set1_ps(d * sc), m1 = _mm512_set1_ps(dmin * m);
      const uint8_t* qs = blk.qs + 32 * (j / 2);
      for (int h = 0; h < 2; ++h) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * h));
        const __m128i nib = j % 2 == 0 ? _mm_and_si128(raw, low4) : _mm_and_si128(_mm_srli_epi16(raw, 4), low4);
        const int64_t i = b * kQK_K + 32 * j + 16 * h;
        acc.add(i, n, _mm512_sub_ps(_mm512_mul_ps(d1, u8_to_ps(nib)), m1), _mm512_loadu_ps(x + i));
      }
    }
  }
  return acc.sum();
}

// q6_K: value = (d*sc)*(q-32) per 16-element sub-block, q 6-bit.
float dot_q6_k(const std::byte* row, const float* x, int64_t n) {
  Acc acc;
  const __m128i low4 = _mm_set1_epi8(0x0F), two = _mm_set1_epi8(3);
  const __m512 bias = _mm512_set1_ps(32.0f);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    BlockQ6_K blk;
    std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof(BlockQ6_K)), sizeof blk);
    const float d = f16_to_f32(blk.d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = blk.ql + 64 * half;
      const uint8_t* qh = blk.qh + 32 * half;
      const int8_t* sc = blk.scales + 8 * half;
      for (int k = 0; k < 4; ++k) {        // quarter: elements 32k..32k+31 of this half
        for (int l0 = 0; l0 < 32; l0 += 16) {
          const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l0 + 32 * (k & 1)));
          const __m128i hb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + l0));
          const __m128i nib = k < 2 ? _mm_and_si128(lo, low4) : _mm_and_si128(_mm_srli_epi16(lo, 4), low4);
          const __m128i top = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 2 * k), two), 4);
          const __m512 qf = _mm512_sub_ps(u8_to_ps(_mm_or_si128(nib, top)), bias);
          const int64_t i = b * kQK_K + 128 * half + 32 * k + l0;
          acc.add(i, n, _mm512_mul_ps(_mm512_set1_ps(d * static_cast<float>(sc[l0 / 16 + 2 * k])), qf), _mm512_loadu_ps(x + i));
        }
      }
    }
  }
  return acc.sum();
}

}  // namespace

DotRowTable dot_row_table_avx512() {
  DotRowTable t;
  t.f32 = dot_f32;
  t.f16 = dot_half<false>;
  t.bf16 = dot_half<true>;
  t.q8_0 = dot_q8_0;
  t.q4_k = dot_q4_k;
  t.q6_k = dot_q6_k;
  t.isa = "avx512";
  return t;
}

}  // namespace dseek::kernels
