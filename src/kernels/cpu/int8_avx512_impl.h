// Internal to kernels/cpu: the AVX-512 int8-activation matmul, shared by
// int8_avx512vnni.cpp (vpdpbusd) and int8_avx512bw.cpp (vpmaddubsw +
// vpmaddwd). The includer defines `struct Isa` first: Isa::dot(acc, u, s)
// adds to each int32 lane acc the sum of four u8 x s8 products, and
// Isa::kVnni says whether it is a single vpdpbusd (no int16 saturation).
//
// One register holds two 32-element blocks (2s, 2s+1) = lanes 0..7, 8..15 of
// the canonical 16 lane accumulators (kernels/ref/int8_matmul.cpp). A tile of
// R rows x T tokens reuses each decoded weight register T times and each
// activation register R times; every (row, token) pair keeps its own
// accumulator, so tile shapes change no bits. Everything sits in an
// anonymous namespace: each ISA file compiles its own copy with its own flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/quant/blocks.h"
#include "kernels/cpu/int8_dot.h"
#include "kernels/cpu/k_scales.h"

namespace dseek::kernels {
namespace {

inline float f16_at(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Lanes 0..7 = p[0], 8..15 = p[1] (p[1] not read and 0 when !both).
[[gnu::always_inline]] inline __m512 lanes_pair(const float* p, bool both) {
  const __m128 v = _mm_maskz_loadu_ps(both ? 0x3 : 0x1, p);
  return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_zextps128_ps512(v));
}
// Lanes 4i..4i+3 = p[i].
[[gnu::always_inline]] inline __m512 lanes_quad(const float* p) {
  return _mm512_permutexvar_ps(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                               _mm512_zextps128_ps512(_mm_loadu_ps(p)));
}

// The reference's halving trees: a[i] + a[i+8], then + a[i+4], + a[i+2], + a[i+1].
inline float reduce8(__m256 h) {
  const __m128 g = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  const __m128 f = _mm_add_ps(g, _mm_movehl_ps(g, g));
  return _mm_cvtss_f32(_mm_add_ss(f, _mm_movehdup_ps(f)));
}
inline float reduce16(__m512 v) {
  return reduce8(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

// One token's activations, as base pointers (hoisted out of the step loop).
struct XRow {
  const int8_t* q;
  const int32_t* neg32;
  const float *d, *dsum;
};
inline XRow x_row(const QuantizedActs& x, int64_t t) { return {x.qs_of(t), x.neg32_of(t), x.d_of(t), x.dsum_of(t)}; }

// Activation side of step s for one token: two blocks of int8, their scales, the -32*sum4 lanes.
struct XStep {
  __m512i q, neg32;
  __m512 d;
};
[[gnu::always_inline]] inline XStep load_x(const XRow& x, int64_t s, bool both) {
  if (both) return {_mm512_loadu_si512(x.q + 64 * s), _mm512_loadu_si512(x.neg32 + 16 * s), lanes_pair(x.d + 2 * s, true)};
  return {_mm512_maskz_loadu_epi8(0xFFFFFFFFull, x.q + 64 * s), _mm512_maskz_loadu_epi32(0x00FF, x.neg32 + 16 * s),
          lanes_pair(x.d + 2 * s, false)};
}

// --- weight types: prep() fills a row's float scales once per row tile; load()
// decodes step s to u8 operands; dot() gives the 16 canonical integer lanes.

struct Q8_0 {
  static constexpr int64_t kScalesPerBlock = 1;
  static constexpr bool kMins = false;
  // GEMV: a group is one step (two blocks, 68 bytes of a row); its scales are
  // the two blocks' f16 d, read where they sit (no prep pass over the row).
  static constexpr int kStepsPerGroup = 1;
  static constexpr int64_t kGroupBytes = 2 * sizeof(BlockQ8_0);
  [[gnu::always_inline]] static __m512 group_scales(const std::byte* row, int64_t g, bool both) {
    const std::byte* p = row + g * kGroupBytes;
    uint16_t d0, d1 = 0;
    std::memcpy(&d0, p, 2);
    if (both) std::memcpy(&d1, p + sizeof(BlockQ8_0), 2);
    const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d0 | (uint32_t{d1} << 16))));
    return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_zextps128_ps512(f));
  }
  template <int K>
  [[gnu::always_inline]] static __m512 step_scale(__m512 gs) { return gs; }
  struct W {
    __m512i u;
    __mmask64 neg;
  };
  static void prep(const std::byte* row, int64_t cols, float* ws) {
    for (int64_t b = 0; b < cols / kQK8_0; ++b) ws[b] = f16_at(row + b * static_cast<int64_t>(sizeof(BlockQ8_0)));
  }
  [[gnu::always_inline]] static __m512 scale(const float* ws, int64_t s, bool both) { return lanes_pair(ws + 2 * s, both); }
  [[gnu::always_inline]] static W load(const std::byte* row, int64_t s, bool both) {
    const std::byte* b0 = row + 2 * s * static_cast<int64_t>(sizeof(BlockQ8_0)) + 2;
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0));
    const __m256i hi = both ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + sizeof(BlockQ8_0)))
                            : _mm256_setzero_si256();
    const __m512i w = _mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1);
    // VNNI: w+128 is unsigned and the +128*sum(x) comes back through neg32*4.
    // Without VNNI (int16 pair sums would saturate): |w| times x with w's sign.
    if constexpr (Isa::kVnni) return {_mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80))), 0};
    else return {_mm512_abs_epi8(w), _mm512_movepi8_mask(w)};
  }
  [[gnu::always_inline]] static __m512i dot(const W& w, const XStep& x) {
    if constexpr (Isa::kVnni) return Isa::dot(_mm512_slli_epi32(x.neg32, 2), w.u, x.q);
    else return Isa::dot(_mm512_setzero_si512(), w.u, _mm512_mask_sub_epi8(x.q, w.neg, _mm512_setzero_si512(), x.q));
  }
};

struct Q4_K {
  static constexpr int64_t kScalesPerBlock = 2;  // per super-block: d*sc[0..7], then dmin*m[0..7]
  static constexpr bool kMins = true;
  struct W {
    __m512i u;
  };
  // The 16 scale floats of super-block `sb`: the reference's d*float(sc[j]), dmin*float(m[j]).
  [[gnu::always_inline]] static __m512 super_block_scales(const std::byte* row, int64_t sb) {
    const std::byte* blk = row + sb * static_cast<int64_t>(sizeof(BlockQ4_K));
    // The twelve 6-bit scale bytes b[0..11] (k_scales.h's layout) unpacked in
    // one register: sc[j<4] = b[j]&63, m[j<4] = b[j+4]&63, sc[j>=4] =
    // (b[j+4]&15) | (b[j-4]>>6)<<4, m[j>=4] = (b[j+4]>>4) | (b[j]>>6)<<4.
    // (The 16-byte load runs 4 bytes into qs, inside the block.)
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));
    const __m128i lo = _mm_shuffle_epi8(b, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i top = _mm_shuffle_epi8(b, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i lo_m = _mm_mask_blend_epi8(0xF000, lo, _mm_srli_epi16(lo, 4));  // m[4..7]: the high nibbles
    const __m128i low_bits = _mm_and_si128(lo_m, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15));
    const __m128i scm = _mm_or_si128(low_bits, _mm_and_si128(_mm_srli_epi16(top, 2), _mm_set1_epi8(0x30)));
    const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(scm));
    uint32_t dd;
    std::memcpy(&dd, blk, 4);
    const __m128 dmin2 = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dd)));  // d, dmin
    const __m512 dm = _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_zextps128_ps512(dmin2));
    return _mm512_mul_ps(dm, q);  // the reference's d*float(sc), dmin*float(m)
  }
  static void prep(const std::byte* row, int64_t cols, float* ws) {
    for (int64_t sb = 0; sb < cols / kQK_K; ++sb) _mm512_storeu_ps(ws + 16 * sb, super_block_scales(row, sb));
  }
  // GEMV: a group is one super-block (four steps); step k's lanes are
  // d*sc[2k] (0..7) and d*sc[2k+1] (8..15), the upper half of the group's
  // scales is dmin*m[0..7] for the min term.
  static constexpr int kStepsPerGroup = 4;
  static constexpr int64_t kGroupBytes = sizeof(BlockQ4_K);
  [[gnu::always_inline]] static __m512 group_scales(const std::byte* row, int64_t g, bool) { return super_block_scales(row, g); }
  template <int K>
  [[gnu::always_inline]] static __m512 step_scale(__m512 gs) {
    return _mm512_permutexvar_ps(_mm512_set_epi32(2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1,
                                                  2 * K + 1, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K), gs);
  }
  [[gnu::always_inline]] static __m512 scale(const float* ws, int64_t s, bool) {
    return lanes_pair(ws + 16 * (s >> 2) + 2 * (s & 3), true);
  }
  // Step s = sub-blocks 2c, 2c+1 of super-block s/4 (c = s%4): the low and
  // high nibbles of the same 32 bytes, so one broadcast load serves both.
  [[gnu::always_inline]] static W load(const std::byte* row, int64_t s, bool) {
    const std::byte* p = row + (s >> 2) * static_cast<int64_t>(sizeof(BlockQ4_K)) + 16 + 32 * (s & 3);
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return {_mm512_and_si512(_mm512_mask_srli_epi16(v, 0xFFFF0000u, v, 4), _mm512_set1_epi8(0x0F))};
  }
  [[gnu::always_inline]] static __m512i dot(const W& w, const XStep& x) { return Isa::dot(_mm512_setzero_si512(), w.u, x.q); }
};

struct Q6_K {
  static constexpr int64_t kScalesPerBlock = 2;  // sub-blocks of 16
  static constexpr bool kMins = false;
  struct W {
    __m512i u;
  };
  // d*float(sc[i]) for the 16 sub-blocks of super-block `sb`.
  [[gnu::always_inline]] static __m512 super_block_scales(const std::byte* row, int64_t sb) {
    const std::byte* blk = row + sb * static_cast<int64_t>(sizeof(BlockQ6_K));
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + offsetof(BlockQ6_K, scales)));
    const __m512 d = _mm512_set1_ps(f16_at(blk + offsetof(BlockQ6_K, d)));
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc)));
  }
  static void prep(const std::byte* row, int64_t cols, float* ws) {
    for (int64_t sb = 0; sb < cols / kQK_K; ++sb) _mm512_storeu_ps(ws + 16 * sb, super_block_scales(row, sb));
  }
  // GEMV: a group is one super-block; step k's lanes 4i..4i+3 are d*sc[4k+i].
  static constexpr int kStepsPerGroup = 4;
  static constexpr int64_t kGroupBytes = sizeof(BlockQ6_K);
  [[gnu::always_inline]] static __m512 group_scales(const std::byte* row, int64_t g, bool) { return super_block_scales(row, g); }
  template <int K>
  [[gnu::always_inline]] static __m512 step_scale(__m512 gs) {
    return _mm512_permutexvar_ps(_mm512_set_epi32(4 * K + 3, 4 * K + 3, 4 * K + 3, 4 * K + 3, 4 * K + 2, 4 * K + 2, 4 * K + 2,
                                                  4 * K + 2, 4 * K + 1, 4 * K + 1, 4 * K + 1, 4 * K + 1, 4 * K, 4 * K, 4 * K, 4 * K), gs);
  }
  [[gnu::always_inline]] static __m512 scale(const float* ws, int64_t s, bool) { return lanes_quad(ws + 4 * s); }
  // Step s = quarters (0,1) or (2,3) of half (s/2)%2 of super-block s/4:
  // 64 bytes of ql (low or high nibbles) and 2 bits per value from qh.
  [[gnu::always_inline]] static W load(const std::byte* row, int64_t s, bool) {
    const std::byte* blk = row + (s >> 2) * static_cast<int64_t>(sizeof(BlockQ6_K));
    const int64_t h = (s >> 1) & 1;
    const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h)));
    const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    // Quarter q's two bits sit at bit 2q of qh; move them to bits 4..5 (the
    // 16-bit shifts leak only into bits the 0x30 mask drops).
    if (s & 1) {
      const __m512i nib = _mm512_and_si512(_mm512_srli_epi16(ql, 4), low4);
      const __m512i top = _mm512_and_si512(_mm512_srlv_epi16(qh, _mm512_set_epi64(0x0002000200020002, 0x0002000200020002,
          0x0002000200020002, 0x0002000200020002, 0, 0, 0, 0)), bits45);
      return {_mm512_or_si512(nib, top)};
    }
    const __m512i nib = _mm512_and_si512(ql, low4);
    const __m512i top = _mm512_and_si512(_mm512_sllv_epi16(qh, _mm512_set_epi64(0x0002000200020002, 0x0002000200020002,
        0x0002000200020002, 0x0002000200020002, 0x0004000400040004, 0x0004000400040004, 0x0004000400040004,
        0x0004000400040004)), bits45);
    return {_mm512_or_si512(nib, top)};
  }
  [[gnu::always_inline]] static __m512i dot(const W& w, const XStep& x) { return Isa::dot(x.neg32, w.u, x.q); }
};

// --- the register tile

constexpr int kTileRows = 4, kTileToks = 3;  // 12 accumulators + 4 weights + 4 scales + operands < 32 registers
constexpr int64_t kPrefetchTiles = 4;       // decode: request the row tile this far ahead
constexpr int64_t kPredecodeTokens = 6;     // from this many tokens, decode each row tile once up front

// The weight side of a row tile: rows and prep()'s scales, and (GEMM) every
// step's decoded operand and scale lanes, decoded once for all token tiles.
template <class Ty>
struct RowTile {
  const std::byte* rows[kTileRows];
  const float* ws[kTileRows];
  const typename Ty::W* dec[kTileRows];  // [n_steps] per row when predecoded
  const __m512* dec_ws[kTileRows];
  const char* prefetch = nullptr;  // a later row tile, fetched a few lines per step
  int64_t prefetch_per_step = 0;   // cache lines
};

template <class Ty, int R, int T, bool kPre>
[[gnu::always_inline]] inline void tile_step(const RowTile<Ty>& rt, const XRow (&x)[T], int64_t s, bool both,
                                             __m512 (&acc)[R][T]) {
  const __mmask16 lanes = both ? 0xFFFF : 0x00FF;
  // Decode reads weights once, so DRAM latency, not bandwidth, is the limit
  // unless the next rows are requested early; the hardware prefetcher alone
  // does not run far enough ahead of four interleaved row streams. Into L2
  // (T1): measured ~10% faster than T0, which stalls on full fill buffers.
  for (int64_t i = 0; i < rt.prefetch_per_step; ++i)
    _mm_prefetch(rt.prefetch + 64 * (s * rt.prefetch_per_step + i), _MM_HINT_T1);
  typename Ty::W w[R];
  __m512 ws[R];
  // Fully unrolled (early enough for GCC to keep acc[][] in registers).
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    if constexpr (kPre) {
      w[r] = rt.dec[r][s];
      ws[r] = rt.dec_ws[r][s];
    } else {
      w[r] = Ty::load(rt.rows[r], s, both);
      ws[r] = Ty::scale(rt.ws[r], s, both);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) {
    const XStep xs = load_x(x[t], s, both);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 l = _mm512_cvtepi32_ps(Ty::dot(w[r], xs));
      acc[r][t] = _mm512_mask3_fmadd_ps(l, _mm512_mul_ps(ws[r], xs.d), acc[r][t], lanes);
    }
  }
}

// q4_K's min terms for R rows x T tokens: per pair the reference's 8-lane
// chain over super-blocks (dmin*m sits in the upper half of each 16 prep()
// floats); the pairs' chains interleave so their FMA latencies overlap.
template <int R, int T>
[[gnu::always_inline]] inline void q4_k_mins(const float* const* ws, const XRow (&x)[T], int64_t n_sb, float (&out)[R][T]) {
  __m256 m[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) m[r][t] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < n_sb; ++sb)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 wm = _mm256_loadu_ps(ws[r] + 16 * sb + 8);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) m[r][t] = _mm256_fmadd_ps(wm, _mm256_loadu_ps(x[t].dsum + 8 * sb), m[r][t]);
    }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[r][t] = reduce8(m[r][t]);
}

// R rows of rt x tokens t0..t0+T-1: y[t * y_stride + r].
template <class Ty, int R, int T, bool kPre>
void tile(const RowTile<Ty>& rt, const QuantizedActs& x, int64_t t0, float* y, int64_t y_stride) {
  XRow xr[T];
  for (int t = 0; t < T; ++t) xr[t] = x_row(x, t0 + t);
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  const int64_t nb = x.blocks();
  for (int64_t s = 0; s < nb / 2; ++s) tile_step<Ty, R, T, kPre>(rt, xr, s, true, acc);
  if (nb & 1) tile_step<Ty, R, T, kPre>(rt, xr, nb / 2, false, acc);
  float mins[R][T] = {};
  if constexpr (Ty::kMins) q4_k_mins<R, T>(rt.ws, xr, x.cols / kQK_K, mins);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[(t0 + t) * y_stride + r] = Ty::kMins ? reduce16(acc[r][t]) - mins[r][t] : reduce16(acc[r][t]);
}

// tile<R, nt> for nt = T, T-1, ..., 1 (a compile-time shape per run-time count).
template <class Ty, int R, bool kPre, int T = kTileToks>
void tile_rows(int nt, const RowTile<Ty>& rt, const QuantizedActs& x, int64_t t0, float* y, int64_t y_stride) {
  if (nt == T) return tile<Ty, R, T, kPre>(rt, x, t0, y, y_stride);
  if constexpr (T > 1) tile_rows<Ty, R, kPre, T - 1>(nt, rt, x, t0, y, y_stride);
}

template <class Ty, bool kPre, int R = kTileRows>
void run_tile(int nr, int nt, const RowTile<Ty>& rt, const QuantizedActs& x, int64_t t0, float* y, int64_t y_stride) {
  if (nr == R) return tile_rows<Ty, R, kPre>(nt, rt, x, t0, y, y_stride);
  if constexpr (R > 1) run_tile<Ty, kPre, R - 1>(nr, nt, rt, x, t0, y, y_stride);
}

// Every step of one row, decoded: the same values tile_step would decode on the fly.
template <class Ty>
void predecode_row(const std::byte* row, const float* ws, int64_t n_blocks, typename Ty::W* dec, __m512* dec_ws) {
  for (int64_t s = 0; s < (n_blocks + 1) / 2; ++s) {
    const bool both = 2 * s + 1 < n_blocks;
    dec[s] = Ty::load(row, s, both);
    dec_ws[s] = Ty::scale(ws, s, both);
  }
}

// --- GEMV (one token: decode). Every weight byte is read once, so the loop
// is kept lean: rows addressed by stride from one base, each group's scales
// computed in registers where they are used (no prep pass, no scale buffer),
// and a fixed number of prefetches per group for the row tile kPrefetchTiles
// ahead. The arithmetic is tile_step's, operation for operation: same bits.
template <class Ty, int K, int R>
[[gnu::always_inline]] inline void gemv_step(const std::byte* base, uint64_t rb, const XRow& x, int64_t s, bool both,
                                             const __m512 (&gs)[R], __m512 (&acc)[R]) {
  const __mmask16 lanes = both ? 0xFFFF : 0x00FF;
  const XStep xs = load_x(x, s, both);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 l = _mm512_cvtepi32_ps(Ty::dot(Ty::load(base + r * rb, s, both), xs));
    acc[r] = _mm512_mask3_fmadd_ps(l, _mm512_mul_ps(Ty::template step_scale<K>(gs[r]), xs.d), acc[r], lanes);
  }
}

template <class Ty, int R>
void gemv_tile(const std::byte* base, uint64_t rb, const XRow& x, int64_t nb, const char* pf, int64_t pf_bytes, float* y) {
  constexpr int G = Ty::kStepsPerGroup;
  constexpr int64_t kLines = (kTileRows * Ty::kGroupBytes + 63) / 64;  // a whole tile's groups, rounded up
  __m512 acc[R];
  __m256 mins[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    acc[r] = _mm512_setzero_ps();
    mins[r] = _mm256_setzero_ps();
  }
  const int64_t n_groups = (nb + 2 * G - 1) / (2 * G);  // q8_0 may end in a half step; k-quants never do
  for (int64_t g = 0; g < n_groups; ++g) {
    if (const int64_t off = g * kLines * 64; off < pf_bytes)
#pragma GCC unroll 16
      for (int64_t i = 0; i < kLines; ++i) _mm_prefetch(pf + off + 64 * i, _MM_HINT_T1);
    const bool both = G > 1 || 2 * g + 1 < nb;
    __m512 gs[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      gs[r] = Ty::group_scales(base + r * rb, g, both);
      if constexpr (Ty::kMins) mins[r] = _mm256_fmadd_ps(_mm512_extractf32x8_ps(gs[r], 1), _mm256_loadu_ps(x.dsum + 8 * g), mins[r]);
    }
    gemv_step<Ty, 0, R>(base, rb, x, g * G, both, gs, acc);
    if constexpr (G > 1) {
      gemv_step<Ty, 1, R>(base, rb, x, g * G + 1, true, gs, acc);
      gemv_step<Ty, 2, R>(base, rb, x, g * G + 2, true, gs, acc);
      gemv_step<Ty, 3, R>(base, rb, x, g * G + 3, true, gs, acc);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = Ty::kMins ? reduce16(acc[r]) - reduce8(mins[r]) : reduce16(acc[r]);
}

template <class Ty>
void gemv_int8(const MatrixView& w, const QuantizedActs& x, float* y, int64_t row_begin, int64_t row_end) {
  static_assert(Ty::kStepsPerGroup == 1 || Ty::kStepsPerGroup == 4);
  const XRow xr = x_row(x, 0);
  const uint64_t rb = w.row_bytes;
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kTileRows) {
    const int64_t nr = std::min<int64_t>(kTileRows, row_end - r0);
    const std::byte* base = w.data + static_cast<uint64_t>(r0) * rb;
    const int64_t pf_row = r0 + kPrefetchTiles * kTileRows, pf_rows = std::min<int64_t>(kTileRows, row_end - pf_row);
    const char* pf = reinterpret_cast<const char*>(w.data + static_cast<uint64_t>(std::max<int64_t>(pf_row, 0)) * rb);
    const int64_t pf_bytes = pf_rows > 0 ? pf_rows * static_cast<int64_t>(rb) : 0;
    switch (nr) {
      case 4: gemv_tile<Ty, 4>(base, rb, xr, x.blocks(), pf, pf_bytes, y + r0); break;
      case 3: gemv_tile<Ty, 3>(base, rb, xr, x.blocks(), pf, pf_bytes, y + r0); break;
      case 2: gemv_tile<Ty, 2>(base, rb, xr, x.blocks(), pf, pf_bytes, y + r0); break;
      default: gemv_tile<Ty, 1>(base, rb, xr, x.blocks(), pf, pf_bytes, y + r0); break;
    }
  }
}

// Rows in tiles of 4; for each, the weight scales once (and for GEMMs the
// decoded weights), then all tokens three at a time (the tile's rows stay in
// L1 while the tokens stream past).
template <class Ty>
void matmul_int8(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end) {
  if (x.n_tok == 1) return gemv_int8<Ty>(w, x, y, row_begin, row_end);
  const int64_t n_ws = x.blocks() * Ty::kScalesPerBlock, n_steps = (x.blocks() + 1) / 2;
  const bool pre = x.n_tok >= kPredecodeTokens;
  std::vector<float> scales(static_cast<size_t>(kTileRows * n_ws));
  std::vector<typename Ty::W> dec(pre ? static_cast<size_t>(kTileRows * n_steps) : 0);
  std::vector<__m512> dec_ws(dec.size());
  RowTile<Ty> rt;
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kTileRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kTileRows, row_end - r0));
    for (int i = 0; i < nr; ++i) {
      rt.rows[i] = w.data + static_cast<uint64_t>(r0 + i) * w.row_bytes;
      rt.ws[i] = scales.data() + i * n_ws;
      Ty::prep(rt.rows[i], x.cols, scales.data() + i * n_ws);
      if (!pre) continue;
      rt.dec[i] = dec.data() + i * n_steps;
      rt.dec_ws[i] = dec_ws.data() + i * n_steps;
      predecode_row<Ty>(rt.rows[i], rt.ws[i], x.blocks(), dec.data() + i * n_steps, dec_ws.data() + i * n_steps);
    }
    // While the first token tile runs, prefetch the row tile kPrefetchTiles ahead (its
    // prep and decode would otherwise wait on DRAM: MoE experts see only tens of tokens).
    const int64_t pf_row = r0 + kPrefetchTiles * kTileRows, pf_rows = std::min<int64_t>(kTileRows, row_end - pf_row);
    rt.prefetch = pf_rows > 0 ? reinterpret_cast<const char*>(w.data + static_cast<uint64_t>(pf_row) * w.row_bytes) : nullptr;
    rt.prefetch_per_step = rt.prefetch ? (pf_rows * static_cast<int64_t>(w.row_bytes) / 64 + n_steps) / n_steps : 0;
    for (int64_t t0 = 0; t0 < x.n_tok; t0 += kTileToks) {
      const int nt = static_cast<int>(std::min<int64_t>(kTileToks, x.n_tok - t0));
      if (pre) run_tile<Ty, true>(nr, nt, rt, x, t0, y + r0, y_stride);
      else run_tile<Ty, false>(nr, nt, rt, x, t0, y + r0, y_stride);
      rt.prefetch_per_step = 0;
    }
  }
}

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
      const int32_t sum = _mm512_reduce_add_epi32(_mm512_zextsi256_si512(s4));
      out.d[static_cast<size_t>(t * nb + b)] = d;
      out.dsum[static_cast<size_t>(t * nb + b)] = d * static_cast<float>(sum);
    }
}

}  // namespace
}  // namespace dseek::kernels
