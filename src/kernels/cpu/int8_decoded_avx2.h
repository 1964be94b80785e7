// Internal to kernels/cpu/int8_avx2.cpp (included at its end, after sum4,
// group_halves and reduce8): the AVX2 int8 kernel of the decoded-row types
// (kernels/int8_decode/decoded_row.h has the canonical order). Each weight row
// is decoded once per call and dotted with every token: one register is one
// block, eight blocks' lanes reduce to their two half sums, and the scales
// apply with one multiply and one FMA per half and eight blocks.
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/int8_decoded_rows.h"
#include "kernels/int8_decode/decoded_row.h"

namespace dseek::kernels {
namespace {

// n (<= 8) floats from p, zeros after.
[[gnu::always_inline]] inline __m256 load_floats(const float* p, int n) {
  if (n == 8) return _mm256_loadu_ps(p);
  alignas(32) float v[8] = {};
  std::copy(p, p + n, v);
  return _mm256_load_ps(v);
}
// 2n (<= 16) int32 from p as two registers, zeros after.
[[gnu::always_inline]] inline void load_pairs(const int32_t* p, int n, __m256i& lo, __m256i& hi) {
  alignas(32) int32_t v[16] = {};
  if (n == 8) {
    lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 8));
    return;
  }
  std::copy(p, p + 2 * n, v);
  lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(v));
  hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(v + 8));
}

// Lane j = mi_0 S_0 + mi_1 S_1 of block j (from -32 S_h, an exact multiple of 32).
[[gnu::always_inline]] inline __m256i decoded_min_sums(const int32_t* mi, const int32_t* neg32h, int n) {
  __m256i m_lo, m_hi, x_lo, x_hi;
  load_pairs(mi, n, m_lo, m_hi);
  load_pairs(neg32h, n, x_lo, x_hi);
  const __m256i h = _mm256_hadd_epi32(_mm256_mullo_epi32(m_lo, x_lo), _mm256_mullo_epi32(m_hi, x_hi));  // b0 b1 b4 b5 | b2 b3 b6 b7
  const __m256i neg = _mm256_permute4x64_epi64(h, _MM_SHUFFLE(3, 1, 2, 0));
  return _mm256_srai_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), neg), 5);
}

template <int H, bool kMins>
float decoded_dot_avx2(const DecodedRow& w, const QuantizedActs& x, int64_t t) {
  const int8_t* xq = x.qs_of(t);
  const float* dx = x.d_of(t);
  const int32_t* neg32h = x.neg32h_of(t);
  const int64_t nb = x.blocks();
  __m256 acc = _mm256_setzero_ps(), mins = _mm256_setzero_ps();
  for (int64_t g = 0; g < nb; g += 8) {
    const int n = static_cast<int>(std::min<int64_t>(8, nb - g));
    __m256i v[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      if (k >= n) {
        v[k] = _mm256_setzero_si256();
        continue;
      }
      const __m256i wq = _mm256_load_si256(reinterpret_cast<const __m256i*>(w.q + 32 * (g + k)));
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * (g + k)));
      v[k] = sum4(_mm256_abs_epi8(wq), _mm256_sign_epi8(xv, wq));
    }
    __m256i h0123, h4567;
    group_halves(v, h0123, h4567);
    const __m256i L0 = _mm256_permute2x128_si256(h0123, h4567, 0x20), L1 = _mm256_permute2x128_si256(h0123, h4567, 0x31);
    const __m256 d = load_floats(dx + g, n);
    __m256 next;
    if constexpr (H == 1) {
      next = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(L0, L1)), _mm256_mul_ps(load_floats(w.s0 + g, n), d), acc);
    } else {
      next = _mm256_fmadd_ps(_mm256_cvtepi32_ps(L0), _mm256_mul_ps(load_floats(w.s0 + g, n), d), acc);
      next = _mm256_fmadd_ps(_mm256_cvtepi32_ps(L1), _mm256_mul_ps(load_floats(w.s1 + g, n), d), next);
    }
    // Lanes past the row's last block keep their chain untouched (the reference has no step there).
    const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    acc = n == 8 ? next : _mm256_blendv_ps(acc, next, valid);
    if constexpr (kMins) {
      const __m256i M = decoded_min_sums(w.mi + 2 * g, neg32h + 2 * g, n);
      const __m256 m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(M), _mm256_mul_ps(load_floats(w.ms + g, n), d), mins);
      mins = n == 8 ? m : _mm256_blendv_ps(mins, m, valid);
    }
  }
  return kMins ? reduce8(acc) - reduce8(mins) : reduce8(acc);
}

struct Avx2DecodedDot {
  template <int H, bool kMins>
  static float dot(const DecodedRow& w, const QuantizedActs& x, int64_t t) {
    return decoded_dot_avx2<H, kMins>(w, x, t);
  }
  static DecodeRowFn decoder(DType t) { return decoded_format(t)->decode; }  // no AVX2 decoders yet
};

// Every decoded-row type's entry in `t`.
void add_decoded_kernels(Int8Table& t) { add_decoded_kernels_for<Avx2DecodedDot>(t); }

}  // namespace
}  // namespace dseek::kernels
