// Internal to kernels/cpu: the f32 helpers that are the same algorithm at
// every vector width, written once over a vector wrapper V (cpu/vec_<isa>.h:
// V::F a register of V::kLanes floats, loads, stores, FMA, and how the ISA
// handles the last n % kLanes elements: V::kMaskedTail, masked vectors, or a
// scalar loop). Each dot_row_<isa>.cpp includes this after its wrapper and
// instantiates the templates under its own -m flags; everything sits in an
// anonymous namespace so no ISA's code is linked into another's caller.
// Each function's summation order, and so its bits, is as before it was
// shared: the orders are per ISA (the tests compare each with the reference).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/float_convert.h"
#include "kernels/cpu/dot_row.h"

namespace dseek::kernels {
namespace {

// y[i] += a * x[i], one fused multiply-add per element (AxpyFn).
template <class V>
void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const auto va = V::set1(a);
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(y + i, V::fmadd(va, V::load(x + i), V::load(y + i)));
  if constexpr (V::kMaskedTail) {
    if (i < n) {
      const auto m = V::mask(n - i);
      V::store(y + i, m, V::fmadd(va, V::load(m, x + i), V::load(m, y + i)));
    }
  } else {
    for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
  }
}

// Sum of n doubles in four vector accumulators (StreamSumFn).
template <class V>
double stream_sum_f64(const double* a, int64_t n) {
  constexpr int L = V::kDoubles;
  auto s0 = V::dzero(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    s0 = V::dadd(s0, V::dload(a + i));
    s1 = V::dadd(s1, V::dload(a + i + L));
    s2 = V::dadd(s2, V::dload(a + i + 2 * L));
    s3 = V::dadd(s3, V::dload(a + i + 3 * L));
  }
  double s = V::dsum(V::dadd(V::dadd(s0, s1), V::dadd(s2, s3)));
  for (; i < n; ++i) s += a[i];
  return s;
}

// NH heads x one vector of columns from i (masked by m on masked ISAs) in
// registers, all rows streamed past: acc[h] = fma(p[s][h], rows[s], acc[h]).
template <class V, int NH>
void weighted_chunk(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t i,
                    typename V::Mask m, float* out, int64_t dim) {
  typename V::F acc[NH];
#pragma GCC unroll 16
  for (int h = 0; h < NH; ++h) acc[h] = V::zero();
  for (int64_t s = 0; s < n_rows; ++s) {
    const auto r = V::load(m, rows[s] + i);
    const float* ps = p + s * n_out;
#pragma GCC unroll 16
    for (int h = 0; h < NH; ++h) acc[h] = V::fmadd(V::set1(ps[h]), r, acc[h]);
  }
#pragma GCC unroll 16
  for (int h = 0; h < NH; ++h) V::store(out + h * dim + i, m, acc[h]);
}

// Heads [0, NH) of out over all columns: vector chunks, then (unmasked ISAs)
// the last dim % kLanes columns as scalar FMA chains in the same order.
template <class V, int NH>
void weighted_heads(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim, float* out) {
  if constexpr (V::kMaskedTail) {
    for (int64_t i = 0; i < dim; i += V::kLanes) weighted_chunk<V, NH>(p, n_rows, n_out, rows, i, V::mask(dim - i), out, dim);
  } else {
    int64_t i = 0;
    for (; i + V::kLanes <= dim; i += V::kLanes) weighted_chunk<V, NH>(p, n_rows, n_out, rows, i, {}, out, dim);
    for (; i < dim; ++i)
      for (int h = 0; h < NH; ++h) {
        float a = 0.0f;
        for (int64_t s = 0; s < n_rows; ++s) a = std::fma(p[s * n_out + h], rows[s][i], a);
        out[h * dim + i] = a;
      }
  }
}

// The largest of V::kHeadTiles (from index K on) that fits in `left` heads; returns the heads done.
template <class V, size_t K = 0>
int weighted_tile(int64_t left, const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim,
                  float* out) {
  constexpr int nh = V::kHeadTiles[K];
  if constexpr (K + 1 < V::kHeadTiles.size())
    if (left < nh) return weighted_tile<V, K + 1>(left, p, n_rows, n_out, rows, dim, out);
  weighted_heads<V, nh>(p, n_rows, n_out, rows, dim, out);
  return nh;
}

// WeightedRowsFn: each output the fma chain of n_rows terms from zero.
template <class V>
void weighted_rows_f32(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim, float* out) {
  for (int64_t h0 = 0; h0 < n_out;)
    h0 += weighted_tile<V>(n_out - h0, p + h0, n_rows, n_out, rows, dim, out + h0 * dim);
}

// R rows x T activation vectors, every (row, vector) pair accumulated exactly
// as the ISA's dot_f32 does (element i into accumulator (i / kLanes) % 4
// within 4 * kLanes chunks, a partial chunk into accumulator 0 by masked
// vectors or kLanes at a time and then a scalar FMA chain, V::sum): the same
// bits, with each loaded weight vector reused T times and each activation
// vector R times. Every loop over acc[][][] fully unrolled: an indexed one
// would make GCC keep the accumulators in memory.
template <class V, int R, int T>
void dot_f32_tile(const float* const* w, const float* const* x, int64_t n, float* out, int64_t out_stride) {
  constexpr int L = V::kLanes;
  typename V::F acc[R][T][4];
  [[maybe_unused]] typename V::Tail tail[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) acc[r][t][k] = V::zero();
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      typename V::F wv[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        wv[r] = V::load(w[r] + i + L * k);
        V::pin(wv[r]);
      }
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        auto xv = V::load(x[t] + i + L * k);
        V::pin(xv);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][t][k] = V::fmadd(wv[r], xv, acc[r][t][k]);
      }
    }
  }
  if constexpr (V::kMaskedTail) {
    for (; i < n; i += L) {
      const auto m = V::mask(n - i);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const auto xv = V::load(m, x[t] + i);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][t][0] = V::fmadd(V::load(m, w[r] + i), xv, acc[r][t][0]);
      }
    }
  } else {
    for (; i + L <= n; i += L)
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const auto wv = V::load(w[r] + i);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[r][t][0] = V::fmadd(wv, V::load(x[t] + i), acc[r][t][0]);
      }
    for (; i < n; ++i)
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) V::tail_fmadd(tail[r][t], w[r][i], x[t][i]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) out[r * out_stride + t] = V::sum(acc[r][t], tail[r][t]);
}

template <class V, int R>
void dot_f32_rows(const float* const* w, const float* const* x, int64_t n_x, int64_t n, float* out, int64_t out_stride) {
  int64_t t = 0;
  for (; t + 3 <= n_x; t += 3) dot_f32_tile<V, R, 3>(w, x + t, n, out + t, out_stride);
  if (n_x - t == 2) dot_f32_tile<V, R, 2>(w, x + t, n, out + t, out_stride);
  else if (n_x - t == 1) dot_f32_tile<V, R, 1>(w, x + t, n, out + t, out_stride);
}

// DotManyFn: out[r * n_x + t] = dot_f32(w[r], x[t]) for all pairs; vectors in
// tiles of 24 (reused from L1 across all rows), rows V::kTileRows at a time.
template <class V>
void dot_f32_many(const float* const* w, int64_t n_rows, const float* const* x, int64_t n_x, int64_t n, float* out) {
  constexpr int kRows = V::kTileRows;
  for (int64_t t0 = 0; t0 < n_x; t0 += 24) {
    const int64_t nt = std::min<int64_t>(24, n_x - t0);
    int64_t r = 0;
    for (; r + kRows <= n_rows; r += kRows) dot_f32_rows<V, kRows>(w + r, x + t0, nt, n, out + r * n_x + t0, n_x);
    if (r < n_rows) dot_f32_rows<V, 1>(w + r, x + t0, nt, n, out + r * n_x + t0, n_x);
  }
}

// f16 or bf16 row -> f32 (DequantRowFn): exact widening, the reference's values.
template <class V, bool kBf16>
void dequant_half(const std::byte* row, float* out, int64_t n) {
  const auto* w = reinterpret_cast<const uint16_t*>(row);
  auto widen = [](auto h) { return kBf16 ? V::widen_bf16(h) : V::widen_f16(h); };
  if constexpr (V::kMaskedTail) {
    for (int64_t i = 0; i < n; i += V::kLanes) {
      const auto m = V::mask(n - i);
      V::store(out + i, m, widen(V::load_half(m, w + i)));
    }
  } else {
    int64_t i = 0;
    for (; i + V::kLanes <= n; i += V::kLanes) V::store(out + i, widen(V::load_half(w + i)));
    for (; i < n; ++i) out[i] = kBf16 ? bf16_to_f32(w[i]) : f16_to_f32(w[i]);
  }
}

// E4M3 codes (one per int32 lane) -> f32, exactly fp8_e4m3_to_f32: normals by
// moving the exponent and mantissa fields into place (bias 7 -> 127),
// subnormals as m * 2^-9 (exact), 0x7F as the reference's quiet NaN, then the sign.
template <class V>
typename V::F f8_lanes(typename V::I v) {
  const auto low7 = V::iset1(0x7F);
  const auto em = V::iand(v, low7);
  auto r = V::as_float(V::iadd(V::template ishl<20>(em), V::iset1(120 << 23)));
  r = V::select(V::less(em, V::iset1(8)), V::mul(V::to_float(em), V::set1(0x1p-9f)), r);
  r = V::select(V::equal(em, low7), V::as_float(V::iset1(0x7FC00000)), r);
  return V::or_bits(r, V::as_float(V::template ishl<24>(V::iandnot(low7, v))));
}

// FP8 E4M3 row -> f32 (DequantRowFn); unmasked ISAs convert the last n % kLanes
// codes one lane at a time with the same arithmetic.
template <class V>
void dequant_f8_e4m3(const std::byte* row, float* out, int64_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(row);
  if constexpr (V::kMaskedTail) {
    for (int64_t i = 0; i < n; i += V::kLanes) {
      const auto m = V::mask(n - i);
      V::store(out + i, m, f8_lanes<V>(V::load_u8(m, p + i)));
    }
  } else {
    int64_t i = 0;
    for (; i + V::kLanes <= n; i += V::kLanes) V::store(out + i, f8_lanes<V>(V::load_u8(p + i)));
    for (; i < n; ++i) V::store_first(out + i, f8_lanes<V>(V::iset1(p[i])));
  }
}

// Fills the entries of a DotRowTable that come from this header.
template <class V>
void add_f32_kernels(DotRowTable& t) {
  t.axpy = axpy_f32<V>;
  t.stream_sum = stream_sum_f64<V>;
  t.weighted_rows = weighted_rows_f32<V>;
  t.f32_many = dot_f32_many<V>;
  t.dequant[DType::kF16] = dequant_half<V, false>;
  t.dequant[DType::kBF16] = dequant_half<V, true>;
  t.dequant[DType::kF8E4M3] = dequant_f8_e4m3<V>;
}

}  // namespace
}  // namespace dseek::kernels
