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

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/cpu/dot_row.h"
#include "kernels/cpu/f32_kernels.h"
#include "kernels/cpu/vec_avx512.h"

namespace dseek::kernels {
namespace {

// Four accumulators, always indexed by compile-time constants (a run-time
// index would force them out of registers).
struct Acc {
  __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  template <int K>
  void add(__m512 w, __m512 x) { a[K] = _mm512_fmadd_ps(w, x, a[K]); }
  float sum() const { return Avx512::sum(a, {}); }
};

// Decoders below hand each 16 dequantised weights (element i onwards) to a
// sink: DotSink accumulates w*x into accumulator K, StoreSink writes them out.
// One decoder per type serves both the fused dot and row dequantisation.
struct DotSink {
  Acc acc;
  const float* x;
  template <int K>
  void put(int64_t i, __m512 w) { acc.add<K>(w, _mm512_loadu_ps(x + i)); }
};
struct StoreSink {
  float* out;
  template <int K>
  void put(int64_t i, __m512 w) { _mm512_storeu_ps(out + i, w); }
};

inline __m512 u8_to_ps(__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)); }
inline __m512 s8_to_ps(__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)); }

// The canonical order of every f32-activation dot here: weights 16 at a time
// (full(i): elements i..i+15; tail(i, m): the masked last ones, zero beyond n),
// element i into accumulator (i/16)%4 within 64-element chunks, the tail 16 at
// a time into accumulator 0, then Acc::sum.
template <class Full, class Tail>
[[gnu::always_inline]] inline float canonical_dot(const float* x, int64_t n, Full full, Tail tail) {
  Acc acc;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc.add<0>(full(i), _mm512_loadu_ps(x + i));
    acc.add<1>(full(i + 16), _mm512_loadu_ps(x + i + 16));
    acc.add<2>(full(i + 32), _mm512_loadu_ps(x + i + 32));
    acc.add<3>(full(i + 48), _mm512_loadu_ps(x + i + 48));
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc.add<0>(tail(i, m), _mm512_maskz_loadu_ps(m, x + i));
  }
  return acc.sum();
}

float dot_f32(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const float*>(row);
  return canonical_dot(x, n, [&](int64_t i) { return _mm512_loadu_ps(w + i); },
                       [&](int64_t i, __mmask16 m) { return _mm512_maskz_loadu_ps(m, w + i); });
}

template <bool kBf16>
float dot_half(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  auto widen = [](__m256i h) { return kBf16 ? Avx512::widen_bf16(h) : Avx512::widen_f16(h); };
  return canonical_dot(x, n, [&](int64_t i) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))); },
                       [&](int64_t i, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, w + i)); });
}

inline __m512 q8_half(const std::byte* blk, int h, __m512 d) {
  return _mm512_mul_ps(s8_to_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2) + h)), d);
}

inline __m512 q8_scale(const std::byte* blk) {
  uint16_t d16;
  std::memcpy(&d16, blk, 2);
  return _mm512_set1_ps(f16_to_f32(d16));
}

template <class Sink>
void decode_q8_0(const std::byte* row, int64_t n, Sink& s) {
  const int64_t nb = n / kQK8_0;
  constexpr int64_t kB = sizeof(BlockQ8_0);
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {  // one 64-element chunk: accumulators 0..3
    const std::byte* b0 = row + b * kB;
    const std::byte* b1 = b0 + kB;
    const __m512 d0 = q8_scale(b0), d1 = q8_scale(b1);
    const int64_t i = b * kQK8_0;
    s.template put<0>(i, q8_half(b0, 0, d0));
    s.template put<1>(i + 16, q8_half(b0, 1, d0));
    s.template put<2>(i + 32, q8_half(b1, 0, d1));
    s.template put<3>(i + 48, q8_half(b1, 1, d1));
  }
  if (b < nb) {  // a trailing 32: both halves into accumulator 0, as dot_f32's tail does
    const std::byte* b0 = row + b * kB;
    const __m512 d0 = q8_scale(b0);
    s.template put<0>(b * kQK8_0, q8_half(b0, 0, d0));
    s.template put<0>(b * kQK8_0 + 16, q8_half(b0, 1, d0));
  }
}

// q4_K: value = (d*sc_j)*q - (dmin*m_j) per 32-element sub-block j.
template <class Sink>
void decode_q4_k(const std::byte* row, int64_t n, Sink& s) {
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
      const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
      const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16));
      const int64_t i = b * kQK_K + 32 * j;
      if (j % 2 == 0) {
        s.template put<0>(i, _mm512_sub_ps(_mm512_mul_ps(d1, u8_to_ps(_mm_and_si128(r0, low4))), m1));
        s.template put<1>(i + 16, _mm512_sub_ps(_mm512_mul_ps(d1, u8_to_ps(_mm_and_si128(r1, low4))), m1));
      } else {
        s.template put<2>(i, _mm512_sub_ps(_mm512_mul_ps(d1, u8_to_ps(_mm_and_si128(_mm_srli_epi16(r0, 4), low4))), m1));
        s.template put<3>(i + 16, _mm512_sub_ps(_mm512_mul_ps(d1, u8_to_ps(_mm_and_si128(_mm_srli_epi16(r1, 4), low4))), m1));
      }
    }
  }
}

// q6_K: value = (d*sc)*(q-32) per 16-element sub-block, q 6-bit.
template <class Sink>
void decode_q6_k(const std::byte* row, int64_t n, Sink& s) {
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
      const int64_t base = b * kQK_K + 128 * half;
      // Quarter k holds elements 32k..32k+31 of this half: accumulators 2k%4 and 2k%4+1.
      auto quarter = [&](auto kc) {
        constexpr int k = decltype(kc)::value;
        for (int l0 = 0; l0 < 32; l0 += 16) {
          const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l0 + 32 * (k & 1)));
          const __m128i hb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + l0));
          const __m128i nib = k < 2 ? _mm_and_si128(lo, low4) : _mm_and_si128(_mm_srli_epi16(lo, 4), low4);
          const __m128i top = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 2 * k), two), 4);
          const __m512 qf = _mm512_sub_ps(u8_to_ps(_mm_or_si128(nib, top)), bias);
          const __m512 w = _mm512_mul_ps(_mm512_set1_ps(d * static_cast<float>(sc[l0 / 16 + 2 * k])), qf);
          if (l0 == 0) s.template put<(2 * k) % 4>(base + 32 * k + l0, w);
          else s.template put<(2 * k) % 4 + 1>(base + 32 * k + l0, w);
        }
      };
      quarter(std::integral_constant<int, 0>{});
      quarter(std::integral_constant<int, 1>{});
      quarter(std::integral_constant<int, 2>{});
      quarter(std::integral_constant<int, 3>{});
    }
  }
}

template <void (*Decode)(const std::byte*, int64_t, DotSink&)>
float dot_decoded(const std::byte* row, const float* x, int64_t n) {
  DotSink s{Acc{}, x};
  Decode(row, n, s);
  return s.acc.sum();
}

template <void (*Decode)(const std::byte*, int64_t, StoreSink&)>
void dequant_decoded(const std::byte* row, float* out, int64_t n) {
  StoreSink s{out};
  Decode(row, n, s);
}

// dot_f32's accumulator pattern on (code value * block scale): a 64-element
// chunk never straddles a 128-column scale block.
float dot_f8_scaled(const std::byte* row, const float* scales, const float* x, int64_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(row);
  return canonical_dot(
      x, n,
      [&](int64_t i) {
        return _mm512_mul_ps(f8_lanes<Avx512>(Avx512::load_u8(p + i)), _mm512_set1_ps(scales[i / 128]));
      },
      [&](int64_t i, __mmask16 m) {
        return _mm512_maskz_mul_ps(m, f8_lanes<Avx512>(Avx512::load_u8(m, p + i)), _mm512_set1_ps(scales[i / 128]));
      });
}

}  // namespace

DotRowTable dot_row_table_avx512() {
  DotRowTable t;
  t.isa = Isa::kAvx512;
  add_f32_kernels<Avx512>(t);
  t.dot[DType::kF32] = dot_f32;
  t.dot[DType::kF16] = dot_half<false>;
  t.dot[DType::kBF16] = dot_half<true>;
  t.dot[DType::kQ8_0] = dot_decoded<decode_q8_0<DotSink>>;
  t.dot[DType::kQ4_K] = dot_decoded<decode_q4_k<DotSink>>;
  t.dot[DType::kQ6_K] = dot_decoded<decode_q6_k<DotSink>>;
  t.dequant[DType::kQ8_0] = dequant_decoded<decode_q8_0<StoreSink>>;
  t.dequant[DType::kQ4_K] = dequant_decoded<decode_q4_k<StoreSink>>;
  t.dequant[DType::kQ6_K] = dequant_decoded<decode_q6_k<StoreSink>>;
  t.f8_e4m3_scaled = dot_f8_scaled;
  return t;
}

}  // namespace dseek::kernels
