// AVX2 int8-activation matmul (vpmaddubsw u8 x s8 pairs to int16, vpmaddwd by
// ones to int32 lanes of four products). One 256-bit register is one block:
// even blocks feed the canonical lanes 0..7, odd blocks lanes 8..15 (two
// accumulators), so the bits are the scalar reference's (ref/int8_matmul.cpp).
// Tiles of 2 rows x 2 tokens: AVX2's 16 registers hold no more without spills.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/quant/blocks.h"
#include "kernels/cpu/int8_dot.h"
#include "kernels/cpu/k_scales.h"

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

// Blocks 2s and 2s+1 of one token ([1] unused when !both).
struct XStep {
  __m256i q[2], neg32[2];
  __m256 d[2];
};
[[gnu::always_inline]] inline XStep load_x(const QuantizedActs& x, int64_t t, int64_t s, bool both) {
  XStep v{};
  for (int i = 0; i < (both ? 2 : 1); ++i) {
    v.q[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs_of(t) + 64 * s + 32 * i));
    v.neg32[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.neg32_of(t) + 16 * s + 8 * i));
    v.d[i] = _mm256_broadcast_ss(x.d_of(t) + 2 * s + i);
  }
  return v;
}

struct Q8_0 {
  static constexpr int64_t kScalesPerBlock = 1;
  static constexpr bool kMins = false;
  struct W {
    __m256i w[2];
  };
  static void prep(const std::byte* row, int64_t cols, float* ws, float*) {
    for (int64_t b = 0; b < cols / kQK8_0; ++b) ws[b] = f16_at(row + b * static_cast<int64_t>(sizeof(BlockQ8_0)));
  }
  [[gnu::always_inline]] static __m256 scale(const float* ws, int64_t s, int i) { return _mm256_broadcast_ss(ws + 2 * s + i); }
  [[gnu::always_inline]] static W load(const std::byte* row, int64_t s, bool both) {
    const std::byte* b0 = row + 2 * s * static_cast<int64_t>(sizeof(BlockQ8_0)) + 2;
    W w;
    w.w[0] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0));
    w.w[1] = both ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + sizeof(BlockQ8_0))) : w.w[0];
    return w;
  }
  // |w| times x with w's sign: pair sums stay below int16's limit.
  [[gnu::always_inline]] static __m256i dot(const W& w, const XStep& x, int i) {
    return sum4(_mm256_abs_epi8(w.w[i]), _mm256_sign_epi8(x.q[i], w.w[i]));
  }
};

struct Q4_K {
  static constexpr int64_t kScalesPerBlock = 1;
  static constexpr bool kMins = true;
  struct W {
    __m256i u[2];
  };
  static void prep(const std::byte* row, int64_t cols, float* ws, float* wm) {
    for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
      BlockQ4_K blk;
      std::memcpy(&blk, row + sb * static_cast<int64_t>(sizeof(BlockQ4_K)), sizeof blk);
      const float d = _cvtsh_ss(blk.d), dmin = _cvtsh_ss(blk.dmin);
      uint8_t sc[8], m[8];
      unpack_q4_k_scales(blk.scales, sc, m);
      for (int j = 0; j < 8; ++j) {
        ws[8 * sb + j] = d * static_cast<float>(sc[j]);
        wm[8 * sb + j] = dmin * static_cast<float>(m[j]);
      }
    }
  }
  [[gnu::always_inline]] static __m256 scale(const float* ws, int64_t s, int i) { return _mm256_broadcast_ss(ws + 2 * s + i); }
  [[gnu::always_inline]] static W load(const std::byte* row, int64_t s, bool) {
    const std::byte* p = row + (s >> 2) * static_cast<int64_t>(sizeof(BlockQ4_K)) + 16 + 32 * (s & 3);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    return {{_mm256_and_si256(v, low4), _mm256_and_si256(_mm256_srli_epi16(v, 4), low4)}};
  }
  [[gnu::always_inline]] static __m256i dot(const W& w, const XStep& x, int i) { return sum4(w.u[i], x.q[i]); }
};

struct Q6_K {
  static constexpr int64_t kScalesPerBlock = 2;
  static constexpr bool kMins = false;
  struct W {
    __m256i u[2];
  };
  static void prep(const std::byte* row, int64_t cols, float* ws, float*) {
    for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
      const std::byte* blk = row + sb * static_cast<int64_t>(sizeof(BlockQ6_K));
      const float d = f16_at(blk + offsetof(BlockQ6_K, d));
      const auto* sc = reinterpret_cast<const int8_t*>(blk + offsetof(BlockQ6_K, scales));
      for (int i = 0; i < 16; ++i) ws[16 * sb + i] = d * static_cast<float>(sc[i]);
    }
  }
  // Lanes 0..3 and 4..7 of block 2s+i have the scales of sub-blocks 4s+2i and 4s+2i+1.
  [[gnu::always_inline]] static __m256 scale(const float* ws, int64_t s, int i) {
    const __m128 two = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(ws + 4 * s + 2 * i)));
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(two), _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0));
  }
  // Step s = quarters 2p, 2p+1 (p = s%2) of half (s/2)%2 of super-block s/4.
  [[gnu::always_inline]] static W load(const std::byte* row, int64_t s, bool) {
    const std::byte* blk = row + (s >> 2) * static_cast<int64_t>(sizeof(BlockQ6_K));
    const int64_t h = (s >> 1) & 1;
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
    const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
    // The two bits of quarter q sit at bit 2q of qh; the 16-bit shifts only leak into bits 0x30 drops.
    if (s & 1)
      return {{_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45)),
               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45))}};
    return {{_mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45)),
             _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45))}};
  }
  [[gnu::always_inline]] static __m256i dot(const W& w, const XStep& x, int i) {
    return _mm256_add_epi32(sum4(w.u[i], x.q[i]), x.neg32[i]);
  }
};

float q4_k_mins(const float* wm, const float* dsum, int64_t n_sb) {
  __m256 m = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < n_sb; ++sb) m = _mm256_fmadd_ps(_mm256_loadu_ps(wm + 8 * sb), _mm256_loadu_ps(dsum + 8 * sb), m);
  return reduce8(m);
}

// One step (blocks 2s, 2s+1; only 2s when !both) of R rows x T tokens:
// acc[r][t][0] = canonical lanes 0..7 (even blocks), [1] = lanes 8..15.
template <class Ty, int R, int T>
[[gnu::always_inline]] inline void tile_step(const std::byte* const* rows, const float* const* ws, const QuantizedActs& x,
                                             int64_t t0, int64_t s, bool both, __m256 (&acc)[R][T][2]) {
  typename Ty::W w[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) w[r] = Ty::load(rows[r], s, both);
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) {
    const XStep xs = load_x(x, t0 + t, s, both);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int i = 0; i < 2; ++i) {
        if (i == 1 && !both) break;
        const __m256 l = _mm256_cvtepi32_ps(Ty::dot(w[r], xs, i));
        acc[r][t][i] = _mm256_fmadd_ps(l, _mm256_mul_ps(Ty::scale(ws[r], s, i), xs.d[i]), acc[r][t][i]);
      }
  }
}

template <class Ty, int R, int T>
void tile(const std::byte* const* rows, const float* const* ws, const float* const* wm, const QuantizedActs& x,
          int64_t t0, float* y, int64_t y_stride) {
  __m256 acc[R][T][2];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t][0] = acc[r][t][1] = _mm256_setzero_ps();
  const int64_t nb = x.blocks();
  for (int64_t s = 0; s < nb / 2; ++s) tile_step<Ty, R, T>(rows, ws, x, t0, s, true, acc);
  if (nb & 1) tile_step<Ty, R, T>(rows, ws, x, t0, nb / 2, false, acc);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      float v = reduce8(_mm256_add_ps(acc[r][t][0], acc[r][t][1]));
      if constexpr (Ty::kMins) v -= q4_k_mins(wm[r], x.dsum_of(t0 + t), x.cols / kQK_K);
      y[(t0 + t) * y_stride + r] = v;
    }
}

constexpr int kRows = 2, kToks = 2;  // 8 accumulators + 4 weight registers: AVX2 has 16

template <class Ty, int R, int T = kToks>
void tile_toks(int nt, const std::byte* const* rows, const float* const* ws, const float* const* wm,
               const QuantizedActs& x, int64_t t0, float* y, int64_t y_stride) {
  if (nt == T) return tile<Ty, R, T>(rows, ws, wm, x, t0, y, y_stride);
  if constexpr (T > 1) tile_toks<Ty, R, T - 1>(nt, rows, ws, wm, x, t0, y, y_stride);
}

template <class Ty>
void matmul_int8(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end) {
  const int64_t n_ws = x.blocks() * Ty::kScalesPerBlock, n_wm = Ty::kMins ? x.blocks() : 0;
  std::vector<float> scales(static_cast<size_t>(kRows * (n_ws + n_wm)));
  const std::byte* rows[kRows];
  const float *ws[kRows], *wm[kRows];
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kRows, row_end - r0));
    for (int i = 0; i < nr; ++i) {
      rows[i] = w.data + static_cast<uint64_t>(r0 + i) * w.row_bytes;
      float* s = scales.data() + i * (n_ws + n_wm);
      ws[i] = s;
      wm[i] = s + n_ws;
      Ty::prep(rows[i], x.cols, s, s + n_ws);
    }
    for (int64_t t0 = 0; t0 < x.n_tok; t0 += kToks) {
      const int nt = static_cast<int>(std::min<int64_t>(kToks, x.n_tok - t0));
      if (nr == 2) tile_toks<Ty, 2>(nt, rows, ws, wm, x, t0, y + r0, y_stride);
      else tile_toks<Ty, 1>(nt, rows, ws, wm, x, t0, y + r0, y_stride);
    }
  }
}

}  // namespace

Int8Table int8_table_avx2() {
  Int8Table t;
  t.q8_0 = matmul_int8<Q8_0>;
  t.q4_k = matmul_int8<Q4_K>;
  t.q6_k = matmul_int8<Q6_K>;
  t.isa = "avx2";
  return t;
}

}  // namespace dseek::kernels
