// AVX2 int8-activation matmul (vpmaddubsw u8 x s8 pairs to int16, vpmaddwd by
// ones to int32 lanes of four products). One 256-bit register is one block;
// eight blocks' lanes are reduced (vphaddd) to eight exact integer block sums,
// lane j = block j, then one multiply and one FMA per eight blocks: the
// canonical order of ref/int8_matmul.cpp, so the scalar reference's bits.
// Few tokens: rows outer, tokens inner (two at a time, sharing each decoded
// block). From kGemmTokens on: 8 rows decoded and interleaved into the lanes of
// a register, so each broadcast activation dword adds four products to 8 rows
// and the float work is one multiply and one FMA per block for all of them.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/quant/blocks.h"
#include "kernels/cpu/int8_dot.h"
#include "kernels/k_scales.h"
#include "kernels/cpu/peak_probe.h"

namespace dseek::kernels {
namespace {

float f16_at(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Halving tree of the reference: a[i]+a[i+4], then +a[i+2], +a[i+1].
float reduce8(__m256 h) {
  const __m128 g = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  const __m128 f = _mm_add_ps(g, _mm_movehl_ps(g, g));
  return _mm_cvtss_f32(_mm_add_ss(f, _mm_movehdup_ps(f)));
}

[[gnu::always_inline]] inline __m256i sum4(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// v[b]: block b's eight group sums. Returns h0123 = [b0..b3 groups 0-3 | b0..b3 groups 4-7], h4567 likewise.
[[gnu::always_inline]] inline void group_halves(const __m256i (&v)[8], __m256i& h0123, __m256i& h4567) {
  h0123 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  h4567 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
}
// Lane j = the exact integer sum of block j.
[[gnu::always_inline]] inline __m256i block_sums(const __m256i (&v)[8]) {
  __m256i a, b;
  group_halves(v, a, b);
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

struct Q8_0 {
  static constexpr bool kMins = false, kHalves = false;
  struct Scales {
    __m256 ws;
  };
  static Scales group(const std::byte* row, int64_t g, int n) {
    short h[8] = {};
    for (int i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, row + (8 * g + i) * static_cast<int64_t>(sizeof(BlockQ8_0)), 2);
      h[i] = static_cast<short>(v);
    }
    return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)))};
  }
  // Block b's 32 signed weights.
  [[gnu::always_inline]] static __m256i load(const std::byte* row, int64_t b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * static_cast<int64_t>(sizeof(BlockQ8_0)) + 2));
  }
  // |w| times x with w's sign: pair sums stay below int16's limit.
  [[gnu::always_inline]] static __m256i dot(__m256i w, const int8_t* xq, const int32_t*) {
    return lane_dot(w, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq)));
  }
  [[gnu::always_inline]] static __m256i lane_dot(__m256i w, __m256i x) { return sum4(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w)); }
  [[gnu::always_inline]] static __m256i init(const int32_t*, int64_t, int) { return _mm256_setzero_si256(); }
  static void prep_t(const std::byte* row, int64_t nb, int lane, float* ws_t, float*) {
    for (int64_t b = 0; b < nb; ++b) ws_t[8 * b + lane] = f16_at(row + b * static_cast<int64_t>(sizeof(BlockQ8_0)));
  }
};

struct Q4_K {
  static constexpr bool kMins = true, kHalves = false;
  struct Scales {
    __m256 ws, wm;  // d*sc[j], dmin*m[j]
  };
  static Scales group(const std::byte* row, int64_t g, int) {
    BlockQ4_K blk;
    std::memcpy(&blk, row + g * static_cast<int64_t>(sizeof(BlockQ4_K)), sizeof blk);
    uint8_t sc[8], m[8];
    unpack_q4_k_scales(blk.scales, sc, m);
    auto floats = [](const uint8_t* p) {
      int64_t v;
      std::memcpy(&v, p, 8);
      return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(v)));
    };
    return {_mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(blk.d)), floats(sc)), _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(blk.dmin)), floats(m))};
  }
  // Sub-block b % 8: low nibbles of 32 bytes for even, high for odd.
  [[gnu::always_inline]] static __m256i load(const std::byte* row, int64_t b) {
    const std::byte* p = row + (b >> 3) * static_cast<int64_t>(sizeof(BlockQ4_K)) + 16 + 32 * ((b & 7) >> 1);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_and_si256((b & 1) ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(0x0F));
  }
  [[gnu::always_inline]] static __m256i dot(__m256i u, const int8_t* xq, const int32_t*) {
    return sum4(u, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq)));
  }
  [[gnu::always_inline]] static __m256i lane_dot(__m256i u, __m256i x) { return sum4(u, x); }
  [[gnu::always_inline]] static __m256i init(const int32_t*, int64_t, int) { return _mm256_setzero_si256(); }
  static void prep_t(const std::byte* row, int64_t nb, int lane, float* ws_t, float* wm_t) {
    for (int64_t g = 0; g < nb / 8; ++g) {
      alignas(32) float ws[8], wm[8];
      const Scales sc = group(row, g, 8);
      _mm256_store_ps(ws, sc.ws);
      _mm256_store_ps(wm, sc.wm);
      for (int j = 0; j < 8; ++j) {
        ws_t[8 * (8 * g + j) + lane] = ws[j];
        wm_t[8 * (8 * g + j) + lane] = wm[j];
      }
    }
  }
};

struct Q6_K {
  static constexpr bool kMins = false, kHalves = true;
  struct Scales {
    __m256 lo, hi;  // d*sc[2j], d*sc[2j+1]: the two halves of block j
  };
  static Scales group(const std::byte* row, int64_t g, int) {
    const std::byte* blk = row + g * static_cast<int64_t>(sizeof(BlockQ6_K));
    const __m128i sc = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + offsetof(BlockQ6_K, scales))),
                                        _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
    const __m256 d = _mm256_set1_ps(f16_at(blk + offsetof(BlockQ6_K, d)));
    return {_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))),
            _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8))))};
  }
  // Block j of a super-block = quarter j%4 of half j/4: 32 bytes of ql (low
  // nibbles for quarters 0, 1, high for 2, 3) and bits 2q of qh as bits 4..5.
  [[gnu::always_inline]] static __m256i load(const std::byte* row, int64_t b) {
    const std::byte* blk = row + (b >> 3) * static_cast<int64_t>(sizeof(BlockQ6_K));
    const int64_t h = (b >> 2) & 1, q = b & 3;
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32 * (q & 1)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
    const __m256i nib = _mm256_and_si256(q < 2 ? ql : _mm256_srli_epi16(ql, 4), _mm256_set1_epi8(0x0F));
    // 16-bit shifts leak only into bits the 0x30 mask drops.
    const __m128i shift = _mm_cvtsi32_si128(static_cast<int>(2 * q));
    const __m256i top = _mm256_and_si256(_mm256_slli_epi16(_mm256_srl_epi16(qh, shift), 4), _mm256_set1_epi8(0x30));
    return _mm256_or_si256(nib, top);
  }
  [[gnu::always_inline]] static __m256i dot(__m256i u, const int8_t* xq, const int32_t* neg32) {
    return _mm256_add_epi32(sum4(u, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(neg32)));
  }
  // Lanes of rows: u = q (0..63), the -32 offset enters as each half-block's -32 * sum(x).
  [[gnu::always_inline]] static __m256i lane_dot(__m256i u, __m256i x) { return sum4(u, x); }
  [[gnu::always_inline]] static __m256i init(const int32_t* neg32h, int64_t b, int h) { return _mm256_set1_epi32(neg32h[2 * b + h]); }
  static void prep_t(const std::byte* row, int64_t nb, int lane, float* ws_t, float*) {
    for (int64_t g = 0; g < nb / 8; ++g) {
      alignas(32) float lo[8], hi[8];
      const Scales sc = group(row, g, 8);
      _mm256_store_ps(lo, sc.lo);
      _mm256_store_ps(hi, sc.hi);
      for (int j = 0; j < 8; ++j) {
        ws_t[8 * (2 * (8 * g + j)) + lane] = lo[j];
        ws_t[8 * (2 * (8 * g + j) + 1) + lane] = hi[j];
      }
    }
  }
};

// One row x T tokens: y[t * y_stride].
template <class Ty, int T>
void row_tile(const std::byte* row, const QuantizedActs& x, int64_t t0, float* y, int64_t y_stride) {
  const int64_t nb = x.blocks();
  __m256 acc[T], mins[T];
  for (int t = 0; t < T; ++t) acc[t] = mins[t] = _mm256_setzero_ps();
  for (int64_t g = 0; g < (nb + 7) / 8; ++g) {
    const int n = static_cast<int>(std::min<int64_t>(8, nb - 8 * g));
    const typename Ty::Scales sc = Ty::group(row, g, n);
    __m256i w[8];
    for (int j = 0; j < n; ++j) w[j] = Ty::load(row, 8 * g + j);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int8_t* xq = x.qs_of(t0 + t) + 256 * g;
      const int32_t* neg32 = x.neg32_of(t0 + t) + 64 * g;
      __m256i v[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) v[j] = j < n ? Ty::dot(w[j], xq + 32 * j, neg32 + 8 * j) : _mm256_setzero_si256();
      const float* dx = x.d_of(t0 + t) + 8 * g;
      if constexpr (Ty::kHalves) {
        __m256i a, b;
        group_halves(v, a, b);
        const __m256 d8 = _mm256_loadu_ps(dx);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_permute2x128_si256(a, b, 0x20)), _mm256_mul_ps(sc.lo, d8), acc[t]);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_permute2x128_si256(a, b, 0x31)), _mm256_mul_ps(sc.hi, d8), acc[t]);
      } else {
        const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 d8 = _mm256_maskload_ps(dx, valid);
        const __m256 upd = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_sums(v)), _mm256_mul_ps(sc.ws, d8), acc[t]);
        acc[t] = _mm256_blendv_ps(acc[t], upd, _mm256_castsi256_ps(valid));
      }
      if constexpr (Ty::kMins) mins[t] = _mm256_fmadd_ps(sc.wm, _mm256_loadu_ps(x.dsum_of(t0 + t) + 8 * g), mins[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[t * y_stride] = Ty::kMins ? reduce8(acc[t]) - reduce8(mins[t]) : reduce8(acc[t]);
}

constexpr int kToks = 2;             // tokens per GEMV-style row tile
constexpr int kLaneRows = 8;         // GEMM: rows in the lanes of a register
constexpr int kLaneToks = 4;         // GEMM: tokens per tile
constexpr int64_t kGemmTokens = 6;   // from this many tokens: the lanes-of-rows GEMM

// Interleave block b of 8 decoded rows (rows + i * stride + 32 b) into dec[0..7]:
// dec[k] lane i = dword k of row i (an 8x8 dword transpose).
inline void interleave_block(const uint8_t* rows, int64_t stride, int64_t b, __m256i* dec) {
  __m256i z[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) z[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + i * stride + 32 * b));
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0..3, 4..7: u[4h + m] holds dword m (low 128) and 4 + m (high 128)
    u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
    u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
  }
  for (int m = 0; m < 4; ++m) {
    dec[m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x20);
    dec[4 + m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x31);
  }
}

// 8 rows x T tokens: the canonical lanes j as passes over blocks b = j, j+8, ...
template <class Ty, int T>
void lane_tile(const __m256i* dec, const float* ws_t, const float* wm_t, const QuantizedActs& x, int64_t t0, int nr,
               float* y, int64_t y_stride) {
  constexpr int H = Ty::kHalves ? 2 : 1;
  const int64_t nb = x.blocks();
  const int8_t* xq[T];
  const float *dx[T], *dsum[T];
  const int32_t* nh[T];
  for (int t = 0; t < T; ++t) {
    xq[t] = x.qs_of(t0 + t);
    dx[t] = x.d_of(t0 + t);
    dsum[t] = x.dsum_of(t0 + t);
    nh[t] = x.neg32h_of(t0 + t);
  }
  __m256 part[8][T], mpart[8][T];
  for (int j = 0; j < 8; ++j) {
    __m256 acc[T], mins[T];
    for (int t = 0; t < T; ++t) acc[t] = mins[t] = _mm256_setzero_ps();
    for (int64_t b = j; b < nb; b += 8) {
      __m256i l[H][T];
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t)
#pragma GCC unroll 2
        for (int h = 0; h < H; ++h) l[h][t] = Ty::init(nh[t], b, h);
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const __m256i wk = _mm256_load_si256(dec + 8 * b + k);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          int32_t xv;
          std::memcpy(&xv, xq[t] + 32 * b + 4 * k, 4);
          __m256i& lk = l[H == 2 ? k / 4 : 0][t];
          lk = _mm256_add_epi32(lk, Ty::lane_dot(wk, _mm256_set1_epi32(xv)));
        }
      }
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m256 d = _mm256_set1_ps(dx[t][b]);
#pragma GCC unroll 2
        for (int h = 0; h < H; ++h)
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(l[h][t]), _mm256_mul_ps(_mm256_load_ps(ws_t + 8 * (H * b + h)), d), acc[t]);
      }
    }
    if constexpr (Ty::kMins)
      for (int64_t b = j; b < nb; b += 8)
        for (int t = 0; t < T; ++t) mins[t] = _mm256_fmadd_ps(_mm256_load_ps(wm_t + 8 * b), _mm256_set1_ps(dsum[t][b]), mins[t]);
    for (int t = 0; t < T; ++t) {
      part[j][t] = acc[t];
      mpart[j][t] = mins[t];
    }
  }
  auto tree = [](__m256 (&p)[8][T], int t) {  // the canonical R8 over the lanes j, 8 rows at once
    const __m256 h0 = _mm256_add_ps(p[0][t], p[4][t]), h1 = _mm256_add_ps(p[1][t], p[5][t]);
    const __m256 h2 = _mm256_add_ps(p[2][t], p[6][t]), h3 = _mm256_add_ps(p[3][t], p[7][t]);
    return _mm256_add_ps(_mm256_add_ps(h0, h2), _mm256_add_ps(h1, h3));
  };
  const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int t = 0; t < T; ++t) {
    __m256 v = tree(part, t);
    if constexpr (Ty::kMins) v = _mm256_sub_ps(v, tree(mpart, t));
    _mm256_maskstore_ps(y + t * y_stride, keep, v);
  }
}


// Rows in tiles of 8, decoded and interleaved once per tile (every byte
// written before it is read), then all tokens four at a time.
template <class Ty>
void lane_rows_gemm(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                    int64_t row_end) {
  constexpr int H = Ty::kHalves ? 2 : 1;
  const int64_t nb = x.blocks(), row_u8 = 32 * nb;
  CacheLineScratch<uint8_t> rows_u8(static_cast<size_t>(kLaneRows * row_u8));
  CacheLineScratch<int32_t> dec_store(static_cast<size_t>(8 * 8 * nb));
  auto* dec = reinterpret_cast<__m256i*>(dec_store.data());
  CacheLineScratch<float> ws_t(static_cast<size_t>(8 * H * nb)), wm_t(static_cast<size_t>(8 * nb));
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kLaneRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kLaneRows, row_end - r0));
    for (int i = 0; i < kLaneRows; ++i) {
      uint8_t* dst = rows_u8.data() + i * row_u8;
      if (i >= nr) {  // padding rows: zero operands and scales (their lanes are never stored)
        std::memset(dst, 0, static_cast<size_t>(row_u8));
        for (int64_t k = 0; k < H * nb; ++k) ws_t.data()[8 * k + i] = 0.0f;
        for (int64_t b = 0; b < nb; ++b) wm_t.data()[8 * b + i] = 0.0f;
        continue;
      }
      const std::byte* row = w.data + static_cast<uint64_t>(r0 + i) * w.row_bytes;
      for (int64_t b = 0; b < nb; ++b) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32 * b), Ty::load(row, b));
      Ty::prep_t(row, nb, i, ws_t.data(), wm_t.data());
    }
    for (int64_t b = 0; b < nb; ++b) interleave_block(rows_u8.data(), row_u8, b, dec + 8 * b);
    for (int64_t t0 = 0; t0 < x.n_tok; t0 += kLaneToks) {
      float* yt = y + t0 * y_stride + r0;
      switch (std::min<int64_t>(kLaneToks, x.n_tok - t0)) {
        case 4: lane_tile<Ty, 4>(dec, ws_t.data(), wm_t.data(), x, t0, nr, yt, y_stride); break;
        case 3: lane_tile<Ty, 3>(dec, ws_t.data(), wm_t.data(), x, t0, nr, yt, y_stride); break;
        case 2: lane_tile<Ty, 2>(dec, ws_t.data(), wm_t.data(), x, t0, nr, yt, y_stride); break;
        default: lane_tile<Ty, 1>(dec, ws_t.data(), wm_t.data(), x, t0, nr, yt, y_stride); break;
      }
    }
  }
}

template <class Ty>
void matmul_int8(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end) {
  if (x.n_tok >= kGemmTokens) return lane_rows_gemm<Ty>(w, x, y, y_stride, row_begin, row_end);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const std::byte* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
    int64_t t0 = 0;
    for (; t0 + kToks <= x.n_tok; t0 += kToks) row_tile<Ty, kToks>(row, x, t0, y + t0 * y_stride + r, y_stride);
    for (; t0 < x.n_tok; ++t0) row_tile<Ty, 1>(row, x, t0, y + t0 * y_stride + r, y_stride);
  }
}

// The int8 peak probe (PeakProbeFn): chains of the kernels' dot step
// (vpmaddubsw + vpmaddwd, added), 32 u8 x s8 multiply-adds (64 operations) each.
double peak_probe(int64_t iters) {
  return peak_probe_loop(iters, _mm256_set1_epi32(1), _mm256_set1_epi8(-5),
                         [](__m256i a, __m256i s) { return _mm256_add_epi32(a, sum4(a, s)); }, 64.0);
}

}  // namespace
}  // namespace dseek::kernels

#include "kernels/cpu/int8_decoded_avx2.h"

namespace dseek::kernels {

Int8Table int8_table_avx2() {
  Int8Table t;
  t.isa = Isa::kAvx2;
  t.matmul[DType::kQ8_0] = matmul_int8<Q8_0>;
  t.matmul[DType::kQ4_K] = matmul_int8<Q4_K>;
  t.matmul[DType::kQ6_K] = matmul_int8<Q6_K>;
  t.peak_probe = peak_probe;
  add_decoded_kernels(t);
  return t;
}

}  // namespace dseek::kernels
