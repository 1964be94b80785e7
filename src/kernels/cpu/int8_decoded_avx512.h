// Internal to kernels/cpu/int8_avx512{bw,vnni}.cpp (included after
// int8_avx512_impl.h, whose DotStep, half_block_sums and reduce8 it uses): the
// AVX-512 int8 kernel of the decoded-row types (kernels/int8_decode/
// decoded_row.h has the canonical order). Each weight row is decoded once per
// call and dotted with every token: one register is two blocks, four of them
// reduce to the half sums of eight blocks, and the scales apply with one
// multiply and one FMA per half and eight blocks (masked past the row's end).
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/int8_decoded_rows.h"
#include "kernels/int8_decode/decoded_row.h"

namespace dseek::kernels {
namespace {

// Lane j = mi_0 S_0 + mi_1 S_1 of block j (from -32 S_h, an exact multiple of 32).
[[gnu::always_inline]] inline __m256i decoded_min_sums(const int32_t* mi, const int32_t* neg32h, __mmask16 pairs) {
  const __m512i p = _mm512_mullo_epi32(_mm512_maskz_loadu_epi32(pairs, mi), _mm512_maskz_loadu_epi32(pairs, neg32h));
  const __m512i even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 15, 13, 11, 9, 7, 5, 3, 1);
  const __m256i neg = _mm512_castsi512_si256(_mm512_add_epi32(_mm512_permutexvar_epi32(even, p), _mm512_permutexvar_epi32(odd, p)));
  return _mm256_srai_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), neg), 5);
}

template <int H, bool kMins>
float decoded_dot_avx512(const DecodedRow& w, const QuantizedActs& x, int64_t t) {
  const int8_t* xq = x.qs_of(t);
  const float* dx = x.d_of(t);
  const int32_t* neg32h = x.neg32h_of(t);
  const int64_t nb = x.blocks();
  __m256 acc = _mm256_setzero_ps(), mins = _mm256_setzero_ps();
  for (int64_t g = 0; g < nb; g += 8) {
    const int n = static_cast<int>(std::min<int64_t>(8, nb - g));
    __m512i v[4];
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) {
      const int bytes = std::clamp(32 * n - 64 * s, 0, 64);
      const __mmask64 keep = bytes == 64 ? ~0ull : (1ull << bytes) - 1;
      const __m512i wq = _mm512_maskz_loadu_epi8(keep, w.q + 32 * g + 64 * s);
      const __m512i xv = _mm512_maskz_loadu_epi8(keep, xq + 32 * g + 64 * s);
      // |w| times x with w's sign: u8 x s8 products whose int16 pair sums cannot saturate (|w|, |x| <= 127).
      const __m512i xs = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(wq), _mm512_setzero_si512(), xv);
      v[s] = DotStep::dot(_mm512_setzero_si512(), _mm512_abs_epi8(wq), xs);
    }
    const __m512i halves = half_block_sums(v);
    const __m256i L0 = _mm512_castsi512_si256(halves), L1 = _mm512_extracti64x4_epi64(halves, 1);
    const __mmask8 valid = static_cast<__mmask8>((1u << n) - 1);
    const __m256 d = _mm256_maskz_loadu_ps(valid, dx + g);
    // mask3: lanes past the row's last block keep their chain untouched (the reference has no step there).
    if constexpr (H == 1) {
      acc = _mm256_mask3_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(L0, L1)),
                                  _mm256_mul_ps(_mm256_maskz_loadu_ps(valid, w.s0 + g), d), acc, valid);
    } else {
      acc = _mm256_mask3_fmadd_ps(_mm256_cvtepi32_ps(L0), _mm256_mul_ps(_mm256_maskz_loadu_ps(valid, w.s0 + g), d), acc, valid);
      acc = _mm256_mask3_fmadd_ps(_mm256_cvtepi32_ps(L1), _mm256_mul_ps(_mm256_maskz_loadu_ps(valid, w.s1 + g), d), acc, valid);
    }
    if constexpr (kMins) {
      const __m256i M = decoded_min_sums(w.mi + 2 * g, neg32h + 2 * g, static_cast<__mmask16>((1u << (2 * n)) - 1));
      mins = _mm256_mask3_fmadd_ps(_mm256_cvtepi32_ps(M), _mm256_mul_ps(_mm256_maskz_loadu_ps(valid, w.ms + g), d), mins, valid);
    }
  }
  return kMins ? reduce8(acc) - reduce8(mins) : reduce8(acc);
}

struct Avx512DecodedDot {
  template <int H, bool kMins>
  static float dot(const DecodedRow& w, const QuantizedActs& x, int64_t t) {
    return decoded_dot_avx512<H, kMins>(w, x, t);
  }
  static DecodeRowFn decoder(DType t) { return decoder_or_scalar(decoders_avx512(), t); }
};

// Every decoded-row type's entry in `t`.
void add_decoded_kernels(Int8Table& t) { add_decoded_kernels_for<Avx512DecodedDot>(t); }

}  // namespace
}  // namespace dseek::kernels
