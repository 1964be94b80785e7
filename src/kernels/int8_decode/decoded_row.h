// Internal to kernels/: the "decoded row" form of the int8-activation path for
// every GGUF type beyond q8_0 / q4_K / q6_K (q4_1, q5_0, q5_1, q2_K, q3_K,
// iq4_nl, iq4_xs, mxfp4, the iq2 / iq3 / iq1 grid types, tq1_0, tq2_0).
//
// A weight row is decoded once into exact small integers plus per-block f32
// scales; every kernel (the scalar reference and each ISA) then dots the
// integers with the int8 activations and applies the scales in one canonical
// order. Because the decoders are plain scalar code compiled once (not per
// ISA), and the integer sums are exact, bit identity across ISAs reduces to
// the float order below.
//
// Per 32-element block b (the activation block), halves h = 0, 1 of 16:
//   weight value  ~ s_h[b] * q[i]  - ms[b] * mi_h[b]   (the min term only when `mins`)
//   L_h = sum of q[i] * xq[i] over half h (exact int32), S_h = sum of xq[i] over half h
//   lane j = b % 8, one chain per lane in increasing b:
//     halves == 1: acc[j] = fma(float(L_0 + L_1), s_0[b] * dx[b], acc[j])
//     halves == 2: acc[j] = fma(float(L_0), s_0[b] * dx[b], acc[j]);
//                  acc[j] = fma(float(L_1), s_1[b] * dx[b], acc[j])
//     mins:        mins[j] = fma(float(mi_0[b] * S_0 + mi_1[b] * S_1), ms[b] * dx[b], mins[j])
//   result = R8(acc) [- R8(mins)], R8 the halving tree of ref/int8_matmul.cpp.
// Types whose stored value is d*q + m (q4_1, q5_1) decode ms = -m, mi = 1.
// iq1_s / iq1_m's +-1/8 shift is folded in exactly: q = 8*grid +- 1, s = dl/8.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace dseek::kernels {

// One row's decoded form: arrays the caller owns, `cols` and cols/32 long.
struct DecodedRow {
  int8_t* q;       // [cols], |q| <= 127
  float* s0;       // [nb] scale of half 0 (of the whole block when halves == 1)
  float* s1;       // [nb] scale of half 1 (halves == 2 only)
  int32_t* mi;     // [nb][2] integer min weights of the two halves (mins only)
  float* ms;       // [nb] the min term's scale (mins only)
};

struct DecodedFormat {
  int halves;  // 1: one scale per 32, 2: one per 16
  bool mins;
  // Decodes a row of `cols` weights (cols a multiple of the type's block size).
  void (*decode)(const std::byte* row, int64_t cols, const DecodedRow& out);
};

// The format of t, or nullptr where t does not take this path.
const DecodedFormat* decoded_format(DType t);

// Scratch for one decoded row of `cols` weights (64-byte aligned arrays).
class DecodedRowBuffer {
 public:
  explicit DecodedRowBuffer(int64_t cols);
  ~DecodedRowBuffer();
  DecodedRowBuffer(const DecodedRowBuffer&) = delete;
  DecodedRowBuffer& operator=(const DecodedRowBuffer&) = delete;
  const DecodedRow& row() const { return row_; }

 private:
  void* mem_;
  DecodedRow row_;
};

// The decoders, by family (decode_simple.cpp, decode_grid.cpp).
void decode_q4_1(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_q5_0(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_q5_1(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_q2_k(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_q3_k(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq4_nl(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq4_xs(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_mxfp4(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_tq1_0(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_tq2_0(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq2_xxs(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq2_xs(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq2_s(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq3_xxs(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq3_s(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq1_s(const std::byte* row, int64_t cols, const DecodedRow& out);
void decode_iq1_m(const std::byte* row, int64_t cols, const DecodedRow& out);

}  // namespace dseek::kernels
