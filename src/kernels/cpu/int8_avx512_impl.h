// Internal to kernels/cpu: the AVX-512 int8-activation matmul, shared by
// int8_avx512vnni.cpp (vpdpbusd) and int8_avx512bw.cpp (vpmaddubsw +
// vpmaddwd). The includer defines `struct DotStep` first: DotStep::dot(acc, u, s)
// adds to each int32 lane acc the sum of four u8 x s8 products, and
// DotStep::kVnni says whether it is a single vpdpbusd (no int16 saturation).
//
// Two kernels, both giving the canonical order of kernels/ref/int8_matmul.cpp
// (exact integer block sums, eight float lane chains j = block % 8):
//  * GEMV (decode and small batches): rows read in place, one register = two
//    blocks of a row; each group of eight blocks is reduced to eight integer
//    block sums (lane j = block j), scaled with one multiply and one FMA.
//  * GEMM (VNNI, >= kGemmTokens tokens): 16 rows decoded and interleaved so a
//    register's lanes are rows; vpdpbusd with a broadcast activation dword
//    then sums a block for 16 rows at once, and the float work is one multiply
//    and one FMA per block for all of them.
// Everything sits in an anonymous namespace: each ISA file compiles its own
// copy with its own flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/quant/blocks.h"
#include "kernels/cpu/int8_dot.h"
#include "kernels/cpu/int8_quantize_avx512.h"
#include "kernels/k_scales.h"
#include "kernels/cpu/peak_probe.h"

namespace dseek::kernels {
namespace {

inline float f16_at(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// The reference's halving tree R8: a[i] + a[i+4], then + a[i+2], + a[i+1].
inline float reduce8(__m256 h) {
  const __m128 g = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  const __m128 f = _mm_add_ps(g, _mm_movehl_ps(g, g));
  return _mm_cvtss_f32(_mm_add_ss(f, _mm_movehdup_ps(f)));
}

// One token's activations, as base pointers (hoisted out of the step loop).
struct XRow {
  const int8_t* q;
  const int32_t *neg32, *neg32h, *neg128;
  const float *d, *dsum;
};
inline XRow x_row(const QuantizedActs& x, int64_t t) {
  return {x.qs_of(t), x.neg32_of(t), x.neg32h_of(t), x.neg128_of(t), x.d_of(t), x.dsum_of(t)};
}

// Activation side of step s for one token: two blocks of int8 and their -32*sum4 lanes.
struct XStep {
  __m512i q, neg32;
};
[[gnu::always_inline]] inline XStep load_x(const XRow& x, int64_t s, bool both) {
  if (both) return {_mm512_loadu_si512(x.q + 64 * s), _mm512_loadu_si512(x.neg32 + 16 * s)};
  return {_mm512_maskz_loadu_epi8(0xFFFFFFFFull, x.q + 64 * s), _mm512_maskz_loadu_epi32(0x00FF, x.neg32 + 16 * s)};
}

// --- weight types. The GEMV side: load() decodes step s (blocks 2s, 2s+1 of
// a row) to u8 operands and dot() gives their int32 lanes of four products
// (any split of a block's exact sum will do); group() gives the weight scales
// of a group of eight blocks (lane j = block 8g + j, the canonical lane).
// The GEMM side: prep_t() writes a row's scales transposed (block-major, 16
// rows per block) and init() is the integer offset a lanes-of-rows dot starts from.

// Eight blocks' integer dot products from four steps' lanes (v[s]: block 2s in
// lanes 0..7, 2s+1 in 8..15, eight group sums each), as lane j = block j.
[[gnu::always_inline]] inline __m256i block_sums(const __m512i (&v)[4]) {
  const __m512i a01 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
  const __m512i a23 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
  // Per 128-bit lane c: [v0, v1, v2, v3] summed over groups 4(c%2)..+3 of each step's block c/2.
  const __m512i c = _mm512_add_epi32(_mm512_unpacklo_epi64(a01, a23), _mm512_unpackhi_epi64(a01, a23));
  const __m512i even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 11, 3, 10, 2, 9, 1, 8, 0);
  const __m512i odd = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 15, 7, 14, 6, 13, 5, 12, 4);
  return _mm512_castsi512_si256(_mm512_add_epi32(_mm512_permutexvar_epi32(even, c), _mm512_permutexvar_epi32(odd, c)));
}
// The same for q6_K's half-blocks: lanes 0..7 = first halves of blocks 0..7, 8..15 = second halves.
[[gnu::always_inline]] inline __m512i half_block_sums(const __m512i (&v)[4]) {
  const __m512i a01 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
  const __m512i a23 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
  const __m512i c = _mm512_add_epi32(_mm512_unpacklo_epi64(a01, a23), _mm512_unpackhi_epi64(a01, a23));
  return _mm512_permutexvar_epi32(_mm512_set_epi32(15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0), c);
}

struct Q8_0 {
  static constexpr bool kMins = false, kHalves = false;
  static constexpr int64_t kGroupBytes = 8 * sizeof(BlockQ8_0);
  struct W {
    __m512i u;
    __mmask64 neg;
  };
  [[gnu::always_inline]] static W load(const std::byte* row, int64_t s, bool both) {
    const std::byte* b0 = row + 2 * s * static_cast<int64_t>(sizeof(BlockQ8_0)) + 2;
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0));
    const __m256i hi = both ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + sizeof(BlockQ8_0)))
                            : _mm256_setzero_si256();
    const __m512i w = _mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1);
    // VNNI: w+128 is unsigned and the +128*sum(x) comes back through neg32*4.
    // Without VNNI (int16 pair sums would saturate): |w| times x with w's sign.
    if constexpr (DotStep::kVnni) return {_mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80))), 0};
    else return {_mm512_abs_epi8(w), _mm512_movepi8_mask(w)};
  }
  [[gnu::always_inline]] static __m512i dot(const W& w, const XStep& x) {
    if constexpr (DotStep::kVnni) return DotStep::dot(_mm512_slli_epi32(x.neg32, 2), w.u, x.q);
    else return DotStep::dot(_mm512_setzero_si512(), w.u, _mm512_mask_sub_epi8(x.q, w.neg, _mm512_setzero_si512(), x.q));
  }
  // d of blocks 8g..8g+n-1 (lanes from n on are 0).
  struct Scales {
    __m256 ws;
  };
  [[gnu::always_inline]] static Scales group(const std::byte* row, int64_t g, int n) {
    const std::byte* p = row + g * kGroupBytes;
    auto d = [p](int i) {
      uint16_t v;
      std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(BlockQ8_0)), 2);
      return static_cast<short>(v);
    };
    if (n == 8) return {_mm256_cvtph_ps(_mm_setr_epi16(d(0), d(1), d(2), d(3), d(4), d(5), d(6), d(7)))};
    short h[8] = {};
    for (int i = 0; i < n; ++i) h[i] = d(i);
    return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)))};
  }
  static void prep_t(const std::byte* row, int64_t nb, int i, float* ws_t, float*) {
    for (int64_t b = 0; b < nb; ++b) ws_t[16 * b + i] = f16_at(row + b * static_cast<int64_t>(sizeof(BlockQ8_0)));
  }
  [[gnu::always_inline]] static __m512i init(const XRow& x, int64_t b, int) { return _mm512_set1_epi32(x.neg128[b]); }
};

struct Q4_K {
  static constexpr bool kMins = true, kHalves = false;
  static constexpr int64_t kGroupBytes = sizeof(BlockQ4_K);
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
  // Step s = sub-blocks 2c, 2c+1 of super-block s/4 (c = s%4): the low and
  // high nibbles of the same 32 bytes, so one broadcast load serves both.
  [[gnu::always_inline]] static W load(const std::byte* row, int64_t s, bool) {
    const std::byte* p = row + (s >> 2) * static_cast<int64_t>(sizeof(BlockQ4_K)) + 16 + 32 * (s & 3);
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return {_mm512_and_si512(_mm512_mask_srli_epi16(v, 0xFFFF0000u, v, 4), _mm512_set1_epi8(0x0F))};
  }
  [[gnu::always_inline]] static __m512i dot(const W& w, const XStep& x) { return DotStep::dot(_mm512_setzero_si512(), w.u, x.q); }
  struct Scales {
    __m256 ws, wm;  // d*sc[j], dmin*m[j]
  };
  [[gnu::always_inline]] static Scales group(const std::byte* row, int64_t g, int) {
    const __m512 v = super_block_scales(row, g);
    return {_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)};
  }
  static void prep_t(const std::byte* row, int64_t nb, int i, float* ws_t, float* wm_t) {
    for (int64_t sb = 0; sb < nb / 8; ++sb) {
      alignas(64) float v[16];
      _mm512_store_ps(v, super_block_scales(row, sb));
      for (int j = 0; j < 8; ++j) {
        ws_t[16 * (8 * sb + j) + i] = v[j];
        wm_t[16 * (8 * sb + j) + i] = v[8 + j];
      }
    }
  }
  [[gnu::always_inline]] static __m512i init(const XRow&, int64_t, int) { return _mm512_setzero_si512(); }
};

struct Q6_K {
  static constexpr bool kMins = false, kHalves = true;
  static constexpr int64_t kGroupBytes = sizeof(BlockQ6_K);
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
  [[gnu::always_inline]] static __m512i dot(const W& w, const XStep& x) { return DotStep::dot(x.neg32, w.u, x.q); }
  // Lanes 0..7 = d*sc[2j] (first halves of blocks j), 8..15 = d*sc[2j+1]: half_block_sums' order.
  struct Scales {
    __m512 ws;
  };
  [[gnu::always_inline]] static Scales group(const std::byte* row, int64_t g, int) {
    return {_mm512_permutexvar_ps(_mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0), super_block_scales(row, g))};
  }
  // ws_t[(2b + h) * 16 + i]: half h of block b.
  static void prep_t(const std::byte* row, int64_t nb, int i, float* ws_t, float*) {
    for (int64_t sb = 0; sb < nb / 8; ++sb) {
      alignas(64) float v[16];
      _mm512_store_ps(v, super_block_scales(row, sb));
      for (int k = 0; k < 16; ++k) ws_t[16 * (16 * sb + k) + i] = v[k];
    }
  }
  [[gnu::always_inline]] static __m512i init(const XRow& x, int64_t b, int h) { return _mm512_set1_epi32(x.neg32h[2 * b + h]); }
};

constexpr int64_t kPrefetchTiles = 4;  // GEMV: request the row tile this far ahead
constexpr int kGemvRows = 4;           // GEMV rows interleaved per tile (four DRAM streams)
constexpr int kMaxToks = 4;            // tokens per GEMV tile and per GEMM token tile
constexpr int64_t kGemmTokens = 6;     // from this many tokens (VNNI): lanes-of-rows GEMM

// --- GEMV (few tokens: decode, small batches). Each row's blocks are decoded
// in place, each group of eight blocks reduced to eight integer block sums
// (lane j = block j), then one multiply and one FMA per group: the canonical
// lane chains, eight blocks at a time. R rows interleave so that R DRAM
// streams are in flight; T tokens share each decoded step.
template <class Ty, int R, int T>
void gemv_tile(const std::byte* base, uint64_t rb, const XRow (&x)[T], int64_t nb, const char* pf, int64_t pf_bytes,
               float* y, int64_t y_stride) {
  constexpr int64_t kLines = (kGemvRows * Ty::kGroupBytes + 63) / 64;
  __m256 acc[R][T], mins[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[r][t] = mins[r][t] = _mm256_setzero_ps();
  const int64_t n_groups = (nb + 7) / 8;  // q8_0 may end in a partial group; k-quants never do
  for (int64_t g = 0; g < n_groups; ++g) {
    if (const int64_t off = g * kLines * 64; off < pf_bytes)
#pragma GCC unroll 16
      for (int64_t i = 0; i < kLines; ++i) _mm_prefetch(pf + off + 64 * i, _MM_HINT_T1);
    const int n = static_cast<int>(std::min<int64_t>(8, nb - 8 * g));
    const __mmask8 valid = static_cast<__mmask8>((1u << n) - 1);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const std::byte* row = base + r * rb;
      const typename Ty::Scales sc = Ty::group(row, g, n);
      typename Ty::W w[4];
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s)
        if (2 * s < n) w[s] = Ty::load(row, 4 * g + s, 2 * s + 1 < n);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        __m512i v[4];
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) v[s] = 2 * s < n ? Ty::dot(w[s], load_x(x[t], 4 * g + s, 2 * s + 1 < n)) : _mm512_setzero_si512();
        const __m256 dx = _mm256_maskz_loadu_ps(valid, x[t].d + 8 * g);
        if constexpr (Ty::kHalves) {
          const __m512 l = _mm512_cvtepi32_ps(half_block_sums(v));
          const __m512 s16 = _mm512_mul_ps(sc.ws, _mm512_insertf32x8(_mm512_castps256_ps512(dx), dx, 1));
          acc[r][t] = _mm256_fmadd_ps(_mm512_castps512_ps256(l), _mm512_castps512_ps256(s16), acc[r][t]);
          acc[r][t] = _mm256_fmadd_ps(_mm512_extractf32x8_ps(l, 1), _mm512_extractf32x8_ps(s16, 1), acc[r][t]);
        } else {
          const __m256 l = _mm256_cvtepi32_ps(block_sums(v));
          acc[r][t] = _mm256_mask3_fmadd_ps(l, _mm256_mul_ps(sc.ws, dx), acc[r][t], valid);
        }
        if constexpr (Ty::kMins) mins[r][t] = _mm256_fmadd_ps(sc.wm, _mm256_loadu_ps(x[t].dsum + 8 * g), mins[r][t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = Ty::kMins ? reduce8(acc[r][t]) - reduce8(mins[r][t]) : reduce8(acc[r][t]);
}

template <class Ty, int T>
void gemv_rows(const MatrixView& w, const QuantizedActs& x, int64_t t0, float* y, int64_t y_stride, int64_t row_begin,
               int64_t row_end) {
  XRow xr[T];
  for (int t = 0; t < T; ++t) xr[t] = x_row(x, t0 + t);
  const uint64_t rb = w.row_bytes;
  constexpr int R = T == 1 ? kGemvRows : 2;  // fewer rows when several tokens' accumulators share the registers
  for (int64_t r0 = row_begin; r0 < row_end; r0 += R) {
    const int64_t nr = std::min<int64_t>(R, row_end - r0);
    const std::byte* base = w.data + static_cast<uint64_t>(r0) * rb;
    const int64_t pf_row = r0 + kPrefetchTiles * R, pf_rows = std::min<int64_t>(R, row_end - pf_row);
    const char* pf = reinterpret_cast<const char*>(w.data + static_cast<uint64_t>(std::max<int64_t>(pf_row, 0)) * rb);
    const int64_t pf_bytes = pf_rows > 0 ? pf_rows * static_cast<int64_t>(rb) : 0;
    float* yr = y + t0 * y_stride + r0;
    switch (nr) {
      case 4: if constexpr (R >= 4) gemv_tile<Ty, 4, T>(base, rb, xr, x.blocks(), pf, pf_bytes, yr, y_stride); break;
      case 3: if constexpr (R >= 3) gemv_tile<Ty, 3, T>(base, rb, xr, x.blocks(), pf, pf_bytes, yr, y_stride); break;
      case 2: gemv_tile<Ty, 2, T>(base, rb, xr, x.blocks(), pf, pf_bytes, yr, y_stride); break;
      default: gemv_tile<Ty, 1, T>(base, rb, xr, x.blocks(), pf, pf_bytes, yr, y_stride); break;
    }
  }
}

template <class Ty>
void gemv_int8(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
  for (int64_t t0 = 0; t0 < x.n_tok; t0 += kMaxToks) {
    switch (std::min<int64_t>(kMaxToks, x.n_tok - t0)) {
      case 4: gemv_rows<Ty, 4>(w, x, t0, y, y_stride, row_begin, row_end); break;
      case 3: gemv_rows<Ty, 3>(w, x, t0, y, y_stride, row_begin, row_end); break;
      case 2: gemv_rows<Ty, 2>(w, x, t0, y, y_stride, row_begin, row_end); break;
      default: gemv_rows<Ty, 1>(w, x, t0, y, y_stride, row_begin, row_end); break;
    }
  }
}

// --- GEMM (VNNI, many tokens): 16 rows in the lanes of a register. A row
// tile is decoded once into [block][group of four][16 rows x 4 bytes], so one
// vpdpbusd with a broadcast dword of a token's activations adds four products
// to each of the 16 rows, and eight of them give the block's exact integer
// sums; then one multiply and one FMA per block for all 16 rows.
constexpr int kLaneRows = 16;

// Interleave block b of 16 decoded rows (rows[i] + 32 b, 32 bytes each) into dec[0..7].
[[gnu::always_inline]] inline void interleave_block(const uint8_t* rows, int64_t row_stride, int64_t b, __m512i* dec) {
  __m512i z[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    const uint8_t* p = rows + i * row_stride + 32 * b;
    z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 8 * row_stride)), 1);
  }
  // An 8x8 dword transpose in each 256-bit half (rows 0..7 low, 8..15 high).
  __m512i t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {  // rows 0..3 (h = 0), 4..7 (h = 1) of each half
    u[4 * h + 0] = _mm512_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 1] = _mm512_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 2] = _mm512_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
    u[4 * h + 3] = _mm512_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
  }
  // u[m] (rows 0..3) and u[4+m] (rows 4..7), 128-bit lane c: dword m (c even) or
  // 4+m (c odd) of rows in half c/2. Group k = m takes lanes 0, 2; k = 4+m lanes 1, 3.
  const __m512i lo_idx = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), hi_idx = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {
    dec[m] = _mm512_permutex2var_epi64(u[m], lo_idx, u[4 + m]);
    dec[4 + m] = _mm512_permutex2var_epi64(u[m], hi_idx, u[4 + m]);
  }
}

// T tokens x 16 rows of a decoded row tile; y[t * y_stride + i] for rows i < nr.
// A row tile is RT sub-tiles of 16 rows (sub-tile q: dec + q * 8 nb registers,
// ws_t + q * 16 H nb and wm_t + q * 16 nb floats), T tokens. Each broadcast
// activation dword feeds RT vpdpbusd, each weight register T. q4_K's min
// chains run in a second pass, to leave the registers to the dot products.
// While the first token tile runs, `pf` (the next row tile's weights, pf_lines
// cache lines) is requested a few lines per block: its decode would otherwise
// wait on DRAM (MoE experts see only tens of tokens, so decode is a real share).
template <class Ty, int T, int RT>
void lane_rows_tile(const __m512i* dec, const float* ws_t, const float* wm_t, const QuantizedActs& xa, int64_t t0, int nr,
                    float* y, int64_t y_stride, const char* pf, int64_t pf_lines) {
  constexpr int H = Ty::kHalves ? 2 : 1;
  const int64_t nb = xa.blocks();
  const int64_t pf_per_block = (pf_lines + nb - 1) / nb;
  int64_t pf_next = 0;
  XRow x[T];
  for (int t = 0; t < T; ++t) x[t] = x_row(xa, t0 + t);
  __m512 part[8][RT][T], mpart[8][RT][T];
  for (int j = 0; j < 8; ++j) {
    __m512 acc[RT][T];
#pragma GCC unroll 8
    for (int q = 0; q < RT; ++q)
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) acc[q][t] = _mm512_setzero_ps();
    for (int64_t b = j; b < nb; b += 8) {
      for (int64_t i = 0; i < pf_per_block && pf_next < pf_lines; ++i, ++pf_next) _mm_prefetch(pf + 64 * pf_next, _MM_HINT_T1);
      __m512i l[H][RT][T];
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t)
#pragma GCC unroll 2
        for (int h = 0; h < H; ++h) {
          const __m512i init = Ty::init(x[t], b, h);
#pragma GCC unroll 2
          for (int q = 0; q < RT; ++q) l[h][q][t] = init;
        }
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        __m512i wk[RT];
#pragma GCC unroll 2
        for (int q = 0; q < RT; ++q) wk[q] = _mm512_load_si512(dec + 8 * nb * q + 8 * b + k);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          int32_t xv;
          std::memcpy(&xv, x[t].q + 32 * b + 4 * k, 4);
          const __m512i xb = _mm512_set1_epi32(xv);
#pragma GCC unroll 2
          for (int q = 0; q < RT; ++q) l[H == 2 ? k / 4 : 0][q][t] = DotStep::dot(l[H == 2 ? k / 4 : 0][q][t], wk[q], xb);
        }
      }
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const __m512 dx = _mm512_set1_ps(x[t].d[b]);
#pragma GCC unroll 2
        for (int q = 0; q < RT; ++q)
#pragma GCC unroll 2
          for (int h = 0; h < H; ++h)
            acc[q][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(l[h][q][t]),
                                        _mm512_mul_ps(_mm512_load_ps(ws_t + 16 * H * nb * q + 16 * (H * b + h)), dx), acc[q][t]);
      }
    }
#pragma GCC unroll 2
    for (int q = 0; q < RT; ++q)
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) part[j][q][t] = acc[q][t];
    if constexpr (Ty::kMins) {
      __m512 mins[RT][T];
#pragma GCC unroll 2
      for (int q = 0; q < RT; ++q)
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) mins[q][t] = _mm512_setzero_ps();
      for (int64_t b = j; b < nb; b += 8)
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          const __m512 ds = _mm512_set1_ps(x[t].dsum[b]);
#pragma GCC unroll 2
          for (int q = 0; q < RT; ++q) mins[q][t] = _mm512_fmadd_ps(_mm512_load_ps(wm_t + 16 * nb * q + 16 * b), ds, mins[q][t]);
        }
#pragma GCC unroll 2
      for (int q = 0; q < RT; ++q)
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) mpart[j][q][t] = mins[q][t];
    }
  }
  auto tree = [](__m512 (&p)[8][RT][T], int q, int t) {  // the canonical R8 over the lanes j, 16 rows at once
    const __m512 h0 = _mm512_add_ps(p[0][q][t], p[4][q][t]), h1 = _mm512_add_ps(p[1][q][t], p[5][q][t]);
    const __m512 h2 = _mm512_add_ps(p[2][q][t], p[6][q][t]), h3 = _mm512_add_ps(p[3][q][t], p[7][q][t]);
    return _mm512_add_ps(_mm512_add_ps(h0, h2), _mm512_add_ps(h1, h3));
  };
  for (int q = 0; q < RT; ++q) {
    const int rows_q = std::clamp(nr - kLaneRows * q, 0, kLaneRows);
    if (rows_q == 0) continue;
    const __mmask16 keep = static_cast<__mmask16>((1u << rows_q) - 1);
    for (int t = 0; t < T; ++t) {
      __m512 v = tree(part, q, t);
      if constexpr (Ty::kMins) v = _mm512_sub_ps(v, tree(mpart, q, t));
      _mm512_mask_storeu_ps(y + t * y_stride + kLaneRows * q, keep, v);
    }
  }
}

template <class Ty, int RT>
void lane_rows_tokens(const __m512i* dec, const float* ws, const float* wm, const QuantizedActs& x, int nr, float* y,
                      int64_t y_stride, const char* pf, int64_t pf_lines) {
  for (int64_t t0 = 0; t0 < x.n_tok; t0 += kMaxToks) {
    const int nt = static_cast<int>(std::min<int64_t>(kMaxToks, x.n_tok - t0));
    float* yt = y + t0 * y_stride;
    const int64_t lines = t0 == 0 ? pf_lines : 0;  // the next row tile, requested during the first token tile
    switch (nt) {
      case 4: lane_rows_tile<Ty, 4, RT>(dec, ws, wm, x, t0, nr, yt, y_stride, pf, lines); break;
      case 3: lane_rows_tile<Ty, 3, RT>(dec, ws, wm, x, t0, nr, yt, y_stride, pf, lines); break;
      case 2: lane_rows_tile<Ty, 2, RT>(dec, ws, wm, x, t0, nr, yt, y_stride, pf, lines); break;
      default: lane_rows_tile<Ty, 1, RT>(dec, ws, wm, x, t0, nr, yt, y_stride, pf, lines); break;
    }
  }
}

template <class Ty>
void lane_rows_gemm(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                    int64_t row_end) {
  const int64_t nb = x.blocks(), row_u8 = 32 * nb;
  constexpr int H = Ty::kHalves ? 2 : 1;
  constexpr int kTileRows = 2 * kLaneRows;
  // Per call (one thread's row range): decoded rows, their interleaving, the
  // transposed scales, for two 16-row sub-tiles. Not zero-filled: every byte
  // read is written first.
  CacheLineScratch<uint8_t> rows_u8(static_cast<size_t>(kTileRows * row_u8));
  CacheLineScratch<int32_t> dec_store(static_cast<size_t>(2 * 16 * 8 * nb));  // [2][nb][8] registers
  auto* dec = reinterpret_cast<__m512i*>(dec_store.data());
  CacheLineScratch<float> ws_t(static_cast<size_t>(2 * 16 * H * nb)), wm_t(Ty::kMins ? static_cast<size_t>(2 * 16 * nb) : 1);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kTileRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kTileRows, row_end - r0));
    const int n_sub = nr > kLaneRows ? 2 : 1;
    for (int i = 0; i < n_sub * kLaneRows; ++i) {
      const int q = i / kLaneRows, lane = i % kLaneRows;
      uint8_t* dst = rows_u8.data() + i * row_u8;
      float* ws_q = ws_t.data() + 16 * H * nb * q;
      float* wm_q = wm_t.data() + (Ty::kMins ? 16 * nb * q : 0);
      if (i >= nr) {  // padding rows: zero operands and scales (their lanes are never stored)
        std::memset(dst, 0, static_cast<size_t>(row_u8));
        for (int64_t k = 0; k < H * nb; ++k) ws_q[16 * k + lane] = 0.0f;
        if constexpr (Ty::kMins)
          for (int64_t b = 0; b < nb; ++b) wm_q[16 * b + lane] = 0.0f;
        continue;
      }
      const std::byte* row = w.data + static_cast<uint64_t>(r0 + i) * w.row_bytes;
      for (int64_t s = 0; s < (nb + 1) / 2; ++s) {
        const bool both = 2 * s + 1 < nb;
        const __m512i u = Ty::load(row, s, both).u;
        if (both) _mm512_storeu_si512(dst + 64 * s, u);
        else _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64 * s), _mm512_castsi512_si256(u));
      }
      Ty::prep_t(row, nb, lane, ws_q, wm_q);
    }
    for (int q = 0; q < n_sub; ++q)
      for (int64_t b = 0; b < nb; ++b)
        interleave_block(rows_u8.data() + q * kLaneRows * row_u8, row_u8, b, dec + 8 * nb * q + 8 * b);
    const int64_t next = r0 + kTileRows, next_rows = std::min<int64_t>(kTileRows, row_end - next);
    const char* pf = reinterpret_cast<const char*>(w.data + static_cast<uint64_t>(std::min(next, row_end)) * w.row_bytes);
    const int64_t pf_lines = next_rows > 0 ? (next_rows * static_cast<int64_t>(w.row_bytes) + 63) / 64 : 0;
    if (n_sub == 2) lane_rows_tokens<Ty, 2>(dec, ws_t.data(), wm_t.data(), x, nr, y + r0, y_stride, pf, pf_lines);
    else lane_rows_tokens<Ty, 1>(dec, ws_t.data(), wm_t.data(), x, nr, y + r0, y_stride, pf, pf_lines);
  }
}

template <class Ty>
void matmul_int8(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end) {
  if constexpr (DotStep::kVnni)
    if (x.n_tok >= kGemmTokens) return lane_rows_gemm<Ty>(w, x, y, y_stride, row_begin, row_end);
  gemv_int8<Ty>(w, x, y, y_stride, row_begin, row_end);
}

// The int8 peak probe (PeakProbeFn): chains of DotStep::dot, 64 u8 x s8
// multiply-adds (128 operations) each.
double peak_probe(int64_t iters) {
  return peak_probe_loop(iters, _mm512_set1_epi32(1), _mm512_set1_epi8(-5),
                         [](__m512i a, __m512i s) { return DotStep::dot(a, a, s); }, 128.0);
}

// The table of this DotStep's kernels, exported as `isa`'s by the includer.
Int8Table avx512_int8_table(Isa isa) {
  Int8Table t;
  t.isa = isa;
  t.matmul[DType::kQ8_0] = matmul_int8<Q8_0>;
  t.matmul[DType::kQ4_K] = matmul_int8<Q4_K>;
  t.matmul[DType::kQ6_K] = matmul_int8<Q6_K>;
  t.quantize = quantize_acts;
  t.peak_probe = peak_probe;
  return t;
}

}  // namespace
}  // namespace dseek::kernels
