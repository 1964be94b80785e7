// AVX-512 (F/BW/VL/DQ + F16C) row dot products: f32, f16, bf16, q8_0, q4_K,
// q6_K weights against f32 activations. Weights are widened in registers and
// multiplied in f32 (no activation quantisation, so results stay close to the
// scalar reference). Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq.
#include <immintrin.h>

#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/cpu/dot_row.h"

namespace dseek::kernels {
namespace {

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// Widens 16 bytes (u8 or s8) to 16 floats.
inline __m512 u8_to_ps(__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)); }
inline __m512 s8_to_ps(__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)); }

float dot_f32(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const float*>(row);
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), a0);
  }
  return hsum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

template <bool kBf16>
float dot_half(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  auto widen = [](__m256i h) {
    if constexpr (kBf16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  };
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16))), _mm512_loadu_ps(x + i + 16), a1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m256i h = _mm256_maskz_loadu_epi16(m, w + i);
    a0 = _mm512_fmadd_ps(widen(h), _mm512_maskz_loadu_ps(m, x + i), a0);
  }
  return hsum(_mm512_add_ps(a0, a1));
}

float dot_q8_0(const std::byte* row, const float* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / kQK8_0; ++b, x += kQK8_0) {
    const std::byte* blk = row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const auto* qs = reinterpret_cast<const __m128i*>(blk + 2);
    const __m512 s = _mm512_fmadd_ps(s8_to_ps(_mm_loadu_si128(qs)), _mm512_loadu_ps(x),
                                     _mm512_mul_ps(s8_to_ps(_mm_loadu_si128(qs + 1)), _mm512_loadu_ps(x + 16)));
    acc = _mm512_fmadd_ps(_mm512_set1_ps(f16_to_f32(d16)), s, acc);
  }
  return hsum(acc);
}

// q4_K: value = d*sc_j*q - dmin*m_j per 32-element sub-block j, so
// sum(value*x) = d*sc_j*sum(q*x) - dmin*m_j*sum(x) per sub-block.
float dot_q4_k(const std::byte* row, const float* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    BlockQ4_K blk;
    std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof(BlockQ4_K)), sizeof blk);
    const float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; ++j) {
      const uint8_t* q = blk.scales;
      if (j < 4) sc[j] = q[j] & 63, mn[j] = q[j + 4] & 63;
      else sc[j] = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), mn[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
    for (int c = 0; c < 4; ++c) {
      const float* xc = x + b * kQK_K + c * 64;
      for (int half = 0; half < 2; ++half) {
        const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs + 32 * c));
        const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs + 32 * c + 16));
        const __m128i n0 = half == 0 ? _mm_and_si128(q0, low4) : _mm_and_si128(_mm_srli_epi16(q0, 4), low4);
        const __m128i n1 = half == 0 ? _mm_and_si128(q1, low4) : _mm_and_si128(_mm_srli_epi16(q1, 4), low4);
        const float* xs = xc + 32 * half;
        const __m512 x0 = _mm512_loadu_ps(xs), x1 = _mm512_loadu_ps(xs + 16);
        const __m512 qx = _mm512_fmadd_ps(u8_to_ps(n0), x0, _mm512_mul_ps(u8_to_ps(n1), x1));
        const __m512 sx = _mm512_add_ps(x0, x1);
        const int j = 2 * c + half;
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d * sc[j]), qx, acc);
        acc = _mm512_fnmadd_ps(_mm512_set1_ps(dmin * mn[j]), sx, acc);
      }
    }
  }
  return hsum(acc);
}

// q6_K: 16-element sub-blocks with int8 scales; q in [-32, 31].
float dot_q6_k(const std::byte* row, const float* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  const __m128i low4 = _mm_set1_epi8(0x0F), two = _mm_set1_epi8(3);
  const __m512 bias = _mm512_set1_ps(32.0f);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    BlockQ6_K blk;
    std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof(BlockQ6_K)), sizeof blk);
    const float d = f16_to_f32(blk.d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk.ql + 64 * h;
      const uint8_t* qh = blk.qh + 32 * h;
      const int8_t* sc = blk.scales + 8 * h;
      const float* xh = x + b * kQK_K + 128 * h;
      for (int l0 = 0; l0 < 32; l0 += 16) {
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l0));
        const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l0 + 32));
        const __m128i hb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + l0));
        const __m128i q[4] = {
            _mm_or_si128(_mm_and_si128(a, low4), _mm_slli_epi16(_mm_and_si128(hb, two), 4)),
            _mm_or_si128(_mm_and_si128(c, low4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 2), two), 4)),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 4), low4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 4), two), 4)),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi16(c, 4), low4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 6), two), 4)),
        };
        for (int k = 0; k < 4; ++k) {
          const __m512 qf = _mm512_sub_ps(u8_to_ps(q[k]), bias);
          const __m512 t = _mm512_mul_ps(qf, _mm512_loadu_ps(xh + 32 * k + l0));
          acc = _mm512_fmadd_ps(_mm512_set1_ps(d * static_cast<float>(sc[l0 / 16 + 2 * k])), t, acc);
        }
      }
    }
  }
  return hsum(acc);
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
