// Internal to kernels/cpu: the AVX2 (+ FMA + F16C) vector wrapper the generic
// f32 kernels of f32_kernels.h are instantiated with. Included only by files
// compiled with those -m flags; in an anonymous namespace so no inline
// function is shared with a file built for another ISA.
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace dseek::kernels {
namespace {

struct Avx2 {
  using F = __m256;   // 8 floats
  using I = __m256i;  // 8 int32
  using D = __m256d;  // 4 doubles
  struct Mask {};     // no masked loads: tails run element by element
  struct Tail {       // a partial sum of the last n % 8 products (one FMA chain)
    __m128 v = _mm_setzero_ps();
  };
  static constexpr int kLanes = 8, kDoubles = 4;
  static constexpr bool kMaskedTail = false;
  static constexpr int kTileRows = 1;                       // dot_f32_tile: 1 row x 3 vectors (16 registers)
  static constexpr std::array<int, 2> kHeadTiles = {8, 1};  // weighted_rows: heads per register tile

  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float a) { return _mm256_set1_ps(a); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F load(Mask, const float* p) { return load(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, Mask, F v) { store(p, v); }
  static void store_first(float* p, F v) { _mm_store_ss(p, _mm256_castps256_ps128(v)); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F or_bits(F a, F b) { return _mm256_or_ps(a, b); }
  static void pin(F&) {}  // loads may fold into the FMAs: AVX2's 256-bit loads are not the bottleneck
  static void tail_fmadd(Tail& t, float w, float x) { t.v = _mm_fmadd_ss(_mm_set_ss(w), _mm_set_ss(x), t.v); }
  // hsum((a0 + a1) + (a2 + a3)) + tail: the reduction of every f32 dot here.
  static float sum(const F (&a)[4], Tail t) {
    const __m256 v = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 h = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(_mm_add_ss(h, _mm_movehdup_ps(h)), t.v));
  }

  // 8 halves (f16 or bf16) widened to f32.
  static __m128i load_half(const uint16_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static F widen_f16(__m128i h) { return _mm256_cvtph_ps(h); }
  static F widen_bf16(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }

  // int32 lanes (the FP8 converter's bit arithmetic).
  static I load_u8(const uint8_t* p) {
    int64_t eight;
    std::memcpy(&eight, p, 8);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(eight));
  }
  static I iset1(int32_t a) { return _mm256_set1_epi32(a); }
  static I iand(I a, I b) { return _mm256_and_si256(a, b); }
  static I iandnot(I a, I b) { return _mm256_andnot_si256(a, b); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  template <int N>
  static I ishl(I a) { return _mm256_slli_epi32(a, N); }
  static F as_float(I a) { return _mm256_castsi256_ps(a); }
  static F to_float(I a) { return _mm256_cvtepi32_ps(a); }
  static F less(I a, I b) { return _mm256_castsi256_ps(_mm256_cmpgt_epi32(b, a)); }
  static F equal(I a, I b) { return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)); }
  static F select(F cond, F if_true, F if_false) { return _mm256_blendv_ps(if_false, if_true, cond); }

  static D dzero() { return _mm256_setzero_pd(); }
  static D dload(const double* p) { return _mm256_loadu_pd(p); }
  static D dadd(D a, D b) { return _mm256_add_pd(a, b); }
  static double dsum(D v) {
    double lanes[4];
    _mm256_storeu_pd(lanes, v);
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  }
};

}  // namespace
}  // namespace dseek::kernels
