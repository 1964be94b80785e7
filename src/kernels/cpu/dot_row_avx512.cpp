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

namespace dseek::kernels {
namespace {

// Four accumulators, always indexed by compile-time constants (a run-time
// index would force them out of registers).
struct Acc {
  __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  template <int K>
  void add(__m512 w, __m512 x) { a[K] = _mm512_fmadd_ps(w, x, a[K]); }
  float sum() const { return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]))); }
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
inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1); }

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

// R rows x T activation vectors at once, every (row, vector) pair accumulated
// exactly as dot_f32 does (same accumulator per element, same reduction): the
// same bits, with each loaded weight vector reused T times and each activation
// vector R times. 2 x 3 keeps 24 accumulators + operands within 32 registers.
template <int R, int T>
void dot_f32_tile(const float* const* w, const float* const* x, int64_t n, float* out, int64_t out_stride) {
  // Every loop over acc[][][] fully unrolled: an indexed one would make GCC keep
  // the accumulators in memory (stored at entry and exit of every tile).
  __m512 acc[R][T][4];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) acc[r][t][k] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m512 wv[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        wv[r] = _mm512_loadu_ps(w[r] + i + 16 * k);
        // Operands pinned to registers: GCC otherwise folds a load into every
        // multiply-add that uses it (a memory operand per FMA), and on Zen 4
        // (one 512-bit load per cycle) the tile turns load-bound: 8 loads per
        // 6 FMAs instead of 5.
        asm("" : "+v"(wv[r]));
      }
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        __m512 xv = _mm512_loadu_ps(x[t] + i + 16 * k);
        asm("" : "+v"(xv));
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][t][k] = _mm512_fmadd_ps(wv[r], xv, acc[r][t][k]);
      }
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x[t] + i);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t][0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w[r] + i), xv, acc[r][t][0]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
      out[r * out_stride + t] = _mm512_reduce_add_ps(
          _mm512_add_ps(_mm512_add_ps(acc[r][t][0], acc[r][t][1]), _mm512_add_ps(acc[r][t][2], acc[r][t][3])));
}

template <int R>
void dot_f32_rows(const float* const* w, const float* const* x, int64_t n_x, int64_t n, float* out, int64_t out_stride) {
  int64_t t = 0;
  for (; t + 3 <= n_x; t += 3) dot_f32_tile<R, 3>(w, x + t, n, out + t, out_stride);
  if (n_x - t == 2) dot_f32_tile<R, 2>(w, x + t, n, out + t, out_stride);
  else if (n_x - t == 1) dot_f32_tile<R, 1>(w, x + t, n, out + t, out_stride);
}

// out[r * n_x + t] = dot_f32(w[r], x[t]) for all pairs; vectors in tiles of
// three, rows in pairs, so a tile of activations is reused across all rows
// while it sits in L1.
void dot_f32_many(const float* const* w, int64_t n_rows, const float* const* x, int64_t n_x, int64_t n, float* out) {
  for (int64_t t0 = 0; t0 < n_x; t0 += 24) {
    const int64_t nt = std::min<int64_t>(24, n_x - t0);
    int64_t r = 0;
    for (; r + 2 <= n_rows; r += 2) dot_f32_rows<2>(w + r, x + t0, nt, n, out + r * n_x + t0, n_x);
    if (r < n_rows) dot_f32_rows<1>(w + r, x + t0, nt, n, out + r * n_x + t0, n_x);
  }
}

template <bool kBf16>
float dot_half(const std::byte* row, const float* x, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  auto widen = [](__m256i h) {
    if constexpr (kBf16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  };
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

template <bool kBf16>
void dequant_half(const std::byte* row, float* out, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m256i h = _mm256_maskz_loadu_epi16(m, w + i);
    const __m512 f = kBf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
    _mm512_mask_storeu_ps(out + i, m, f);
  }
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

// E4M3 -> f32, exactly fp8_e4m3_to_f32: normals by moving the exponent and
// mantissa fields into place (bias 7 -> 127), subnormals as m * 2^-9 (exact),
// 0x7F as the reference's quiet NaN, then the sign.
inline __m512 f8_to_ps(__m128i bytes) {
  const __m512i low7 = _mm512_set1_epi32(0x7F);
  const __m512i v = _mm512_cvtepu8_epi32(bytes), em = _mm512_and_si512(v, low7);
  __m512 r = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_slli_epi32(em, 20), _mm512_set1_epi32(120 << 23)));
  r = _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(em, _mm512_set1_epi32(8)), r,
                           _mm512_mul_ps(_mm512_cvtepi32_ps(em), _mm512_set1_ps(0x1p-9f)));
  r = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(em, low7), r, _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)));
  return _mm512_or_ps(r, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_andnot_si512(low7, v), 24)));
}

void dequant_f8_e4m3(const std::byte* row, float* out, int64_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(row);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, f8_to_ps(_mm_maskz_loadu_epi8(m, p + i)));
  }
}

// dot_f32's accumulator pattern on (code value * block scale): a 64-element
// chunk never straddles a 128-column scale block.
float dot_f8_scaled(const std::byte* row, const float* scales, const float* x, int64_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(row);
  return canonical_dot(
      x, n,
      [&](int64_t i) {
        return _mm512_mul_ps(f8_to_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))), _mm512_set1_ps(scales[i / 128]));
      },
      [&](int64_t i, __mmask16 m) {
        return _mm512_maskz_mul_ps(m, f8_to_ps(_mm_maskz_loadu_epi8(m, p + i)), _mm512_set1_ps(scales[i / 128]));
      });
}

// NH heads x one 16-float column chunk in registers, all rows streamed past.
template <int NH>
void weighted_chunk(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t i, __mmask16 m,
                    float* out, int64_t dim) {
  __m512 acc[NH];
#pragma GCC unroll 16
  for (int h = 0; h < NH; ++h) acc[h] = _mm512_setzero_ps();
  for (int64_t s = 0; s < n_rows; ++s) {
    const __m512 r = _mm512_maskz_loadu_ps(m, rows[s] + i);
    const float* ps = p + s * n_out;
#pragma GCC unroll 16
    for (int h = 0; h < NH; ++h) acc[h] = _mm512_fmadd_ps(_mm512_set1_ps(ps[h]), r, acc[h]);
  }
#pragma GCC unroll 16
  for (int h = 0; h < NH; ++h) _mm512_mask_storeu_ps(out + h * dim + i, m, acc[h]);
}

void weighted_rows_f32(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim, float* out) {
  for (int64_t h0 = 0; h0 < n_out;) {
    const int64_t left = n_out - h0;
    const int nh = left >= 16 ? 16 : left >= 8 ? 8 : left >= 4 ? 4 : 1;
    for (int64_t i = 0; i < dim; i += 16) {
      const __mmask16 m = tail_mask(dim - i);
      float* o = out + h0 * dim;
      if (nh == 16) weighted_chunk<16>(p + h0, n_rows, n_out, rows, i, m, o, dim);
      else if (nh == 8) weighted_chunk<8>(p + h0, n_rows, n_out, rows, i, m, o, dim);
      else if (nh == 4) weighted_chunk<4>(p + h0, n_rows, n_out, rows, i, m, o, dim);
      else weighted_chunk<1>(p + h0, n_rows, n_out, rows, i, m, o, dim);
    }
    h0 += nh;
  }
}

double stream_sum_f64(const double* a, int64_t n) {
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_add_pd(s0, _mm512_loadu_pd(a + i));
    s1 = _mm512_add_pd(s1, _mm512_loadu_pd(a + i + 8));
    s2 = _mm512_add_pd(s2, _mm512_loadu_pd(a + i + 16));
    s3 = _mm512_add_pd(s3, _mm512_loadu_pd(a + i + 24));
  }
  double s = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
  for (; i < n; ++i) s += a[i];
  return s;
}

}  // namespace

DotRowTable dot_row_table_avx512() {
  DotRowTable t;
  t.isa = Isa::kAvx512;
  t.dot[DType::kF32] = dot_f32;
  t.axpy = axpy_f32;
  t.stream_sum = stream_sum_f64;
  t.weighted_rows = weighted_rows_f32;
  t.f32_many = dot_f32_many;
  t.dot[DType::kF16] = dot_half<false>;
  t.dot[DType::kBF16] = dot_half<true>;
  t.dot[DType::kQ8_0] = dot_decoded<decode_q8_0<DotSink>>;
  t.dot[DType::kQ4_K] = dot_decoded<decode_q4_k<DotSink>>;
  t.dot[DType::kQ6_K] = dot_decoded<decode_q6_k<DotSink>>;
  t.dequant[DType::kF16] = dequant_half<false>;
  t.dequant[DType::kBF16] = dequant_half<true>;
  t.dequant[DType::kQ8_0] = dequant_decoded<decode_q8_0<StoreSink>>;
  t.dequant[DType::kQ4_K] = dequant_decoded<decode_q4_k<StoreSink>>;
  t.dequant[DType::kQ6_K] = dequant_decoded<decode_q6_k<StoreSink>>;
  t.dequant[DType::kF8E4M3] = dequant_f8_e4m3;
  t.f8_e4m3_scaled = dot_f8_scaled;
  return t;
}

}  // namespace dseek::kernels
