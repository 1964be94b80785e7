// Scalar reference of the int8-activation matmul (q8_0, q4_K, q6_K weights
// against QuantizedActs).
//
// Canonical order, which every SIMD kernel reproduces bit for bit:
//  * A row is a sequence of 32-element blocks b. Each block gives an exact
//    integer L_b = sum of its 32 products (q8_0: w*x; q4_K: q*x, q in 0..15;
//    q6_K: (q-32)*x, as two integers L_b0, L_b1 for its 16-element halves).
//    Integer sums are exact, so a kernel may add the products in any order.
//  * Eight float lanes, lane j = b % 8, each one chain in increasing b:
//      q8_0: acc[j] = fma(float(L_b), d_w[b] * d_x[b], acc[j])
//      q4_K: acc[j] = fma(float(L_b), (d * sc[j]) * d_x[b], acc[j])   (sub-block j = b % 8)
//      q6_K: acc[j] = fma(float(L_b0), (d * sc[2j]) * d_x[b], acc[j]); then the same with L_b1, sc[2j+1]
//    (each scale a product of f32 multiplies in that order).
//  * q4_K's min term: mins[j] = fma(dmin * m[j], dsum_x[b], mins[j]), same lanes.
//  * result = R8(acc) [- R8(mins)], R8 the halving tree a[i] + a[i+4], + a[i+2], + a[i+1].
// Why this order: the float work is one multiply and one FMA per block, not
// per four products, so a kernel can keep 16 rows (or tokens) in the lanes of
// a register and spend its instructions on the integer dot products.
#include <cmath>
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/int8_decode/decoded_row.h"
#include "kernels/k_scales.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

// The eight lane chains of the canonical order.
struct Lanes {
  float acc[8] = {};
  void add(int64_t b, int32_t L, float s) {
    float& a = acc[b % 8];
    a = std::fma(static_cast<float>(L), s, a);
  }
  float reduce() const {
    float h[8];
    std::memcpy(h, acc, sizeof h);
    for (int w = 4; w >= 1; w /= 2)
      for (int i = 0; i < w; ++i) h[i] = h[i] + h[i + w];
    return h[0];
  }
};

float f16_at(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

float dot_q8_0(const std::byte* row, const QuantizedActs& x, int64_t t) {
  const int8_t* xq = x.qs_of(t);
  const float* dx = x.d_of(t);
  Lanes acc;
  for (int64_t b = 0; b < x.blocks(); ++b) {
    const std::byte* blk = row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    const auto* w = reinterpret_cast<const int8_t*>(blk + 2);
    int32_t L = 0;
    for (int i = 0; i < kQK8_0; ++i) L += int32_t{w[i]} * xq[b * kActBlock + i];
    acc.add(b, L, f16_at(blk) * dx[b]);
  }
  return acc.reduce();
}

float dot_q4_k(const std::byte* row, const QuantizedActs& x, int64_t t) {
  const int8_t* xq = x.qs_of(t);
  const float *dx = x.d_of(t), *dsum = x.dsum_of(t);
  Lanes acc, mins;
  for (int64_t sb = 0; sb < x.cols / kQK_K; ++sb) {
    BlockQ4_K blk;
    std::memcpy(&blk, row + sb * static_cast<int64_t>(sizeof(BlockQ4_K)), sizeof blk);
    const float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
    uint8_t sc[8], m[8];
    unpack_q4_k_scales(blk.scales, sc, m);
    for (int j = 0; j < 8; ++j) {
      const int64_t b = sb * 8 + j;
      // Sub-block j: low nibbles of bytes 32*(j/2).. for even j, high nibbles for odd j.
      const uint8_t* qs = blk.qs + 32 * (j / 2);
      int32_t L = 0;
      for (int i = 0; i < 32; ++i) L += ((qs[i] >> (4 * (j & 1))) & 0xF) * int32_t{xq[b * kActBlock + i]};
      acc.add(b, L, d * static_cast<float>(sc[j]) * dx[b]);
      mins.acc[j] = std::fma(dmin * static_cast<float>(m[j]), dsum[b], mins.acc[j]);
    }
  }
  return acc.reduce() - mins.reduce();
}

// q6_K element e (0..255) of a super-block as an unsigned 6-bit value.
int32_t q6_k_value(const BlockQ6_K& blk, int e) {
  const int h = e / 128, q = (e % 128) / 32, l = e % 32;
  const uint8_t lo = blk.ql[64 * h + l + 32 * (q & 1)];
  const int nib = q < 2 ? (lo & 0xF) : (lo >> 4);
  return nib | (((blk.qh[32 * h + l] >> (2 * q)) & 3) << 4);
}

float dot_q6_k(const std::byte* row, const QuantizedActs& x, int64_t t) {
  const int8_t* xq = x.qs_of(t);
  const float* dx = x.d_of(t);
  Lanes acc;
  for (int64_t sb = 0; sb < x.cols / kQK_K; ++sb) {
    BlockQ6_K blk;
    std::memcpy(&blk, row + sb * static_cast<int64_t>(sizeof(BlockQ6_K)), sizeof blk);
    const float d = f16_to_f32(blk.d);
    for (int j = 0; j < 8; ++j) {
      const int64_t b = sb * 8 + j;
      for (int h = 0; h < 2; ++h) {
        int32_t L = 0;
        for (int i = 16 * h; i < 16 * h + 16; ++i) L += (q6_k_value(blk, 32 * j + i) - 32) * int32_t{xq[b * kActBlock + i]};
        acc.add(b, L, d * static_cast<float>(blk.scales[2 * j + h]) * dx[b]);
      }
    }
  }
  return acc.reduce();
}

}  // namespace

void matmul_q8_ref(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                   int64_t row_end) {
  if (decoded_format(w.dtype)) return matmul_decoded_ref(w, x, y, y_stride, row_begin, row_end);
  float (*dot)(const std::byte*, const QuantizedActs&, int64_t) =
      w.dtype == DType::kQ8_0 ? dot_q8_0 : w.dtype == DType::kQ4_K ? dot_q4_k : dot_q6_k;
  for (int64_t r = row_begin; r < row_end; ++r)
    for (int64_t t = 0; t < x.n_tok; ++t) y[t * y_stride + r] = dot(w.data + static_cast<uint64_t>(r) * w.row_bytes, x, t);
}

}  // namespace dseek::kernels
