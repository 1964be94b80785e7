// Internal to kernels/cpu: the AVX-512 (F/BW/VL/DQ + F16C) vector wrapper the
// generic f32 kernels of f32_kernels.h are instantiated with. Included only by
// files compiled with those -m flags; in an anonymous namespace so no inline
// function is shared with a file built for another ISA.
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>

namespace dseek::kernels {
namespace {

inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1); }

struct Avx512 {
  using F = __m512;   // 16 floats
  using I = __m512i;  // 16 int32
  using D = __m512d;  // 8 doubles
  using Mask = __mmask16;
  struct Tail {};  // tails are masked vectors into accumulator 0: no scalar chain
  static constexpr int kLanes = 16, kDoubles = 8;
  static constexpr bool kMaskedTail = true;
  static constexpr int kTileRows = 2;  // dot_f32_tile: 2 rows x 3 vectors, 24 accumulators + operands in 32 registers
  static constexpr std::array<int, 4> kHeadTiles = {16, 8, 4, 1};  // weighted_rows: heads per register tile

  static Mask mask(int64_t left) { return tail_mask(left); }
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float a) { return _mm512_set1_ps(a); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F load(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Mask m, F v) { _mm512_mask_storeu_ps(p, m, v); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F or_bits(F a, F b) { return _mm512_or_ps(a, b); }
  // Operands pinned to registers: GCC otherwise folds a load into every
  // multiply-add that uses it (a memory operand per FMA), and on Zen 4 (one
  // 512-bit load per cycle) dot_f32_tile turns load-bound: 8 loads per 6 FMAs instead of 5.
  static void pin(F& v) { asm("" : "+v"(v)); }
  static float sum(const F (&a)[4], Tail) {
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])));
  }

  // 16 halves (f16 or bf16) widened to f32.
  static __m256i load_half(Mask m, const uint16_t* p) { return _mm256_maskz_loadu_epi16(m, p); }
  static F widen_f16(__m256i h) { return _mm512_cvtph_ps(h); }
  static F widen_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

  // int32 lanes (the FP8 converter's bit arithmetic).
  static I load_u8(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static I load_u8(Mask m, const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)); }
  static I iset1(int32_t a) { return _mm512_set1_epi32(a); }
  static I iand(I a, I b) { return _mm512_and_si512(a, b); }
  static I iandnot(I a, I b) { return _mm512_andnot_si512(a, b); }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  template <int N>
  static I ishl(I a) { return _mm512_slli_epi32(a, N); }
  static F as_float(I a) { return _mm512_castsi512_ps(a); }
  static F to_float(I a) { return _mm512_cvtepi32_ps(a); }
  static Mask less(I a, I b) { return _mm512_cmplt_epi32_mask(a, b); }
  static Mask equal(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static F select(Mask cond, F if_true, F if_false) { return _mm512_mask_blend_ps(cond, if_false, if_true); }

  static D dzero() { return _mm512_setzero_pd(); }
  static D dload(const double* p) { return _mm512_loadu_pd(p); }
  static D dadd(D a, D b) { return _mm512_add_pd(a, b); }
  static double dsum(D v) { return _mm512_reduce_add_pd(v); }
};

}  // namespace
}  // namespace dseek::kernels
