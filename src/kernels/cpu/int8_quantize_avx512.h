// Internal to kernels/cpu: the AVX-512 activation quantiser (QuantizeActsFn
// in int8_dot.h), shared by the AVX-512 int8 files through
// int8_avx512_impl.h; in an anonymous namespace so each compiles its own copy
// under its own -m flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/quantized_acts.h"

namespace dseek::kernels {
namespace {

// quantize_activations_ref's arithmetic, 32 values per block in two registers:
// the same IEEE operations in the same order, so the same bytes and floats.
void quantize_acts(const float* x, int64_t x_stride, QuantizedActs& out, int64_t t_begin, int64_t t_end) {
  const int64_t nb = out.blocks();
  const __m512 magic = _mm512_set1_ps(0x1.8p23f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int64_t t = t_begin; t < t_end; ++t)
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x + t * x_stride + b * kActBlock;
      const __m512 a0 = _mm512_loadu_ps(xb), a1 = _mm512_loadu_ps(xb + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a0), _mm512_abs_ps(a1)));
      const float d = amax / 127.0f;
      const __m512 id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
      auto q32 = [&](__m512 v) {
        const __m512 r = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v, id), magic), magic);
        return _mm512_min_epi32(_mm512_max_epi32(_mm512_cvttps_epi32(r), lo), hi);
      };
      const __m256i q = _mm256_set_m128i(_mm512_cvtepi32_epi8(q32(a1)), _mm512_cvtepi32_epi8(q32(a0)));
      int8_t* qs = out.qs.data() + t * out.cols + b * kActBlock;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), q);
      // Sums of four (ones x q pairs, then pairs of pairs), exact in integers.
      const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.neg32.data() + t * (out.cols / 4) + b * (kActBlock / 4)),
                          _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s4, 5)));
      // Groups 0..3 and 4..7 of s4: the two half-blocks; the block sum is their total.
      auto sum4x = [](__m128i v) {
        const __m128i h2 = _mm_add_epi32(v, _mm_srli_si128(v, 8));
        return _mm_cvtsi128_si32(_mm_add_epi32(h2, _mm_srli_si128(h2, 4)));
      };
      const int32_t half0 = sum4x(_mm256_castsi256_si128(s4)), half1 = sum4x(_mm256_extracti128_si256(s4, 1));
      const int32_t sum = half0 + half1;
      out.neg32h[static_cast<size_t>(t * (out.cols / 16) + 2 * b)] = -32 * half0;
      out.neg32h[static_cast<size_t>(t * (out.cols / 16) + 2 * b + 1)] = -32 * half1;
      out.neg128[static_cast<size_t>(t * nb + b)] = -128 * sum;
      out.d[static_cast<size_t>(t * nb + b)] = d;
      out.dsum[static_cast<size_t>(t * nb + b)] = d * static_cast<float>(sum);
    }
}

}  // namespace
}  // namespace dseek::kernels
