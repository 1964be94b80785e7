// AVX-512 lightning-indexer kernels (cpu/dsa_kernels.h): the Hadamard rotation,
// the FP8 E4M3 block quantiser and the index scores. Built with
// -ffp-contract=off: every multiply and add below is the one written, which is
// what makes the bits those of the paths they replace.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kernels/cpu/dsa_kernels.h"

namespace dseek::kernels::avx512 {
namespace {

constexpr int64_t kMaxDim = 512;  // the decoded keys of one block live on the stack

// Lanes i ^ h of v: the butterfly partner at distance h < 16.
__m512 partner(__m512 v, int h) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  return _mm512_permutexvar_ps(_mm512_xor_si512(lane, _mm512_set1_epi32(h)), v);
}

// The lanes whose index has bit h set (the "x[j + h]" side of a butterfly).
__mmask16 upper_lanes(int h) {
  unsigned m = 0;
  for (int i = 0; i < 16; ++i) m |= ((i & h) != 0 ? 1u : 0u) << i;
  return static_cast<__mmask16>(m);
}

// E4M3 codes (low byte of each int32 lane) to f32, exactly fp8_table()'s
// values: the 7 magnitude bits placed at f32's exponent/mantissa boundary read
// as value · 2^-120 (a subnormal f32 for E4M3's subnormals: the default MXCSR
// keeps those), times 2^120 exactly; the sign bit moved to bit 31.
__m512 fp8_decode(__m512i code) {
  const __m512i mag = _mm512_slli_epi32(_mm512_and_si512(code, _mm512_set1_epi32(0x7F)), 20);
  const __m512i sign = _mm512_slli_epi32(_mm512_and_si512(code, _mm512_set1_epi32(0x80)), 24);
  const __m512 v = _mm512_mul_ps(_mm512_castsi512_ps(mag), _mm512_set1_ps(0x1p120f));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), sign));
}

// f32 to E4M3 codes, fp8_e4m3_from_float_ref's rounding: |x| clamped to 448;
// from 2^-6 up, f32's mantissa rounded to 3 bits to nearest even on the bits
// (a carry moves into the exponent as frexp's m == 8 case does), rebiased
// from 127 to 7; below, the subnormal step 2^-9 rounded to nearest even.
__m512i fp8_encode(__m512 x) {
  const __m512i bits = _mm512_castps_si512(x);
  const __m512i sign = _mm512_srli_epi32(_mm512_and_si512(bits, _mm512_set1_epi32(INT32_MIN)), 24);
  const __m512 a = _mm512_min_ps(_mm512_set1_ps(448.0f), _mm512_abs_ps(x));
  const __m512i ab = _mm512_castps_si512(a);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(ab, 20), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(ab, _mm512_add_epi32(_mm512_set1_epi32(0x7FFFF), odd)), 20);
  const __m512i normal = _mm512_sub_epi32(rounded, _mm512_set1_epi32(120 << 3));
  const __m512 steps = _mm512_roundscale_ps(_mm512_mul_ps(a, _mm512_set1_ps(512.0f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __mmask16 tiny = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p-6f), _CMP_LT_OQ);
  return _mm512_or_si512(_mm512_mask_mov_epi32(normal, tiny, _mm512_cvtps_epi32(steps)), sign);
}

// A block of up to 16 keys decoded, transposed: kt[d * 16 + lane] = key lane's
// value d (lanes past n read a zero record). Gathers take 4 bytes of every key at once.
void decode_block(const float* const* keys, int64_t n, int64_t dim, float* kt, __m512* scale) {
  static const std::array<float, 1 + kMaxDim / 4> zero_record{};
  alignas(64) int64_t addr[16];
  alignas(64) float scales[16];
  for (int64_t s = 0; s < 16; ++s) {
    const float* r = s < n ? keys[s] : zero_record.data();
    addr[s] = reinterpret_cast<int64_t>(r + 1);
    scales[s] = r[0];
  }
  *scale = _mm512_load_ps(scales);
  const __m512i lo = _mm512_load_si512(addr), hi = _mm512_load_si512(addr + 8);
  for (int64_t d = 0; d < dim; d += 4) {
    const __m512i off = _mm512_set1_epi64(d);
    const __m256i a = _mm512_i64gather_epi32(_mm512_add_epi64(lo, off), nullptr, 1);
    const __m256i b = _mm512_i64gather_epi32(_mm512_add_epi64(hi, off), nullptr, 1);
    const __m512i four = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
    for (int j = 0; j < 4; ++j) _mm512_store_ps(kt + (d + j) * 16, fp8_decode(_mm512_srli_epi32(four, 8 * j)));
  }
}

// The logits of one head for the 16 keys of a block, each lane in dot_f32's
// AVX-512 order: element i into accumulator (i/16)%4 (lane i%16) within
// 64-element chunks by FMA from zero, then (a0+a1)+(a2+a3), then
// _mm512_reduce_add_ps's tree over the 16 lanes: here r[l] is lane l's vector.
__m512 head_logits(const float* kt, const float* qh, int64_t dim) {
  __m512 r[16];
#pragma GCC unroll 16
  for (int l = 0; l < 16; ++l) {
    __m512 a[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      a[k] = _mm512_setzero_ps();
      for (int64_t i = 16 * k + l; i < dim; i += 64) a[k] = _mm512_fmadd_ps(_mm512_load_ps(kt + i * 16), _mm512_set1_ps(qh[i]), a[k]);
    }
    r[l] = _mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]));
  }
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) r[j] = _mm512_add_ps(r[j + 8], r[j]);
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) r[j] = _mm512_add_ps(r[j + 4], r[j]);
  return _mm512_add_ps(_mm512_add_ps(r[0], r[2]), _mm512_add_ps(r[1], r[3]));
}

}  // namespace

void hadamard_rotate(float* x, int64_t n) {
  // Stages h < 16 inside each vector: lanes without bit h take x[j] + x[j+h],
  // lanes with it x[j-h] - x[j] (the partner's value first, as the reference).
  for (int64_t i = 0; i < n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    for (int h = 1; h < 16; h *= 2) {
      const __m512 p = partner(v, h);
      v = _mm512_mask_sub_ps(_mm512_add_ps(v, p), upper_lanes(h), p, v);
    }
    _mm512_storeu_ps(x + i, v);
  }
  for (int64_t h = 16; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; j += 16) {
        const __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + h);
        _mm512_storeu_ps(x + j, _mm512_add_ps(a, b));
        _mm512_storeu_ps(x + j + h, _mm512_sub_ps(a, b));
      }
  const __m512 scale = _mm512_set1_ps(static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))));
  for (int64_t i = 0; i < n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), scale));
}

float abs_max(const float* x, int64_t n) {
  __m512 m = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  return _mm512_reduce_max_ps(m);  // max is exact: any order gives the reference's value
}

void fp8_e4m3_encode(const float* x, int64_t n, float scale, uint8_t* q) {
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t i = 0; i < n; i += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtepi32_epi8(fp8_encode(_mm512_div_ps(_mm512_loadu_ps(x + i), s))));
}

void dsa_index_scores(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys,
                      int64_t n_keys, float* out) {
  alignas(64) float kt[kMaxDim * 16];
  alignas(64) float block[16];
  for (int64_t s0 = 0; s0 < n_keys; s0 += 16) {
    const int64_t n = std::min<int64_t>(16, n_keys - s0);
    __m512 scale;
    decode_block(keys + s0, n, dim, kt, &scale);
    __m512 total = _mm512_setzero_ps();
    for (int64_t h = 0; h < n_head; ++h) {
      // std::max(logit, 0.0f) is max_ps(0, logit): -0 and NaN pass through as there.
      const __m512 relu = _mm512_max_ps(_mm512_setzero_ps(), head_logits(kt, q + h * dim, dim));
      total = _mm512_add_ps(total, _mm512_mul_ps(relu, _mm512_set1_ps(w[h])));
    }
    _mm512_store_ps(block, _mm512_mul_ps(total, scale));
    std::memcpy(out + s0, block, static_cast<size_t>(n) * sizeof(float));
  }
}

void order_keys(const float* scores, int64_t n, uint32_t* u) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // + 0 turns -0 into +0 and leaves every other value as it is.
    const __m512i b = _mm512_castps_si512(_mm512_add_ps(_mm512_loadu_ps(scores + i), _mm512_setzero_ps()));
    const __m512i flip = _mm512_or_si512(_mm512_srai_epi32(b, 31), _mm512_set1_epi32(INT32_MIN));
    _mm512_storeu_si512(u + i, _mm512_xor_si512(b, flip));
  }
  for (; i < n; ++i) {
    uint32_t b = 0;
    const float x = scores[i] + 0.0f;
    std::memcpy(&b, &x, sizeof b);
    u[i] = (b & 0x80000000u) != 0 ? ~b : b | 0x80000000u;
  }
}

int64_t select_positions(const uint32_t* u, int64_t n, uint32_t kth, int64_t ties, int32_t* out) {
  const __m512i t = _mm512_set1_epi32(static_cast<int32_t>(kth)), step = _mm512_set1_epi32(16);
  __m512i pos = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int64_t j = 0, i = 0;
  for (; i < n; i += 16, pos = _mm512_add_epi32(pos, step)) {
    const __mmask16 live = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    const __m512i v = _mm512_maskz_loadu_epi32(live, u + i);
    __mmask16 take = _mm512_mask_cmpgt_epu32_mask(live, v, t);
    unsigned eq = _mm512_mask_cmpeq_epu32_mask(live, v, t);
    for (; eq != 0 && ties > 0; --ties, eq &= eq - 1) take |= static_cast<__mmask16>(eq & (~eq + 1));  // lowest first
    _mm512_mask_compressstoreu_epi32(out + j, take, pos);
    j += __builtin_popcount(take);
  }
  return j;
}

}  // namespace dseek::kernels::avx512
