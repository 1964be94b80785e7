// Internal to the ISA kernels of the decoded-row types (int8_decoded_avx2.h,
// int8_decoded_avx512.h): the part that is the same on every ISA. Each weight
// row is decoded once per call into its exact int8 codes and scales, then
// dotted with every token by the ISA's Dot::dot<H, kMins> (H: halves per block,
// kMins: whether the format has an integer min term). Dot::decoder(t) is the
// ISA's decoder of t (int8_decode_simd.h), exact to the scalar one.
#pragma once

#include <cstdint>

#include "kernels/cpu/int8_decode_simd.h"
#include "kernels/cpu/int8_dot.h"
#include "kernels/int8_decode/decoded_row.h"

namespace dseek::kernels {
namespace {

template <class Dot, int H, bool kMins>
void decoded_rows(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                  int64_t row_end) {
  const DecodeRowFn decode = Dot::decoder(w.dtype);
  DecodedRowBuffer buf(x.cols);
  for (int64_t r = row_begin; r < row_end; ++r) {
    decode(w.data + static_cast<uint64_t>(r) * w.row_bytes, x.cols, buf.row());
    for (int64_t t = 0; t < x.n_tok; ++t) y[t * y_stride + r] = Dot::template dot<H, kMins>(buf.row(), x, t);
  }
}

// The Int8Table entry of every decoded-row type on the ISA of Dot.
template <class Dot>
void decoded_matmul(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                    int64_t row_end) {
  const DecodedFormat& f = *decoded_format(w.dtype);
  if (f.halves == 1) {
    if (f.mins) return decoded_rows<Dot, 1, true>(w, x, y, y_stride, row_begin, row_end);
    return decoded_rows<Dot, 1, false>(w, x, y, y_stride, row_begin, row_end);
  }
  if (f.mins) return decoded_rows<Dot, 2, true>(w, x, y, y_stride, row_begin, row_end);
  decoded_rows<Dot, 2, false>(w, x, y, y_stride, row_begin, row_end);
}

template <class Dot>
void add_decoded_kernels_for(Int8Table& t) {
  for (int i = 0; i < kDTypeCount; ++i)
    if (decoded_format(static_cast<DType>(i))) t.matmul[static_cast<DType>(i)] = decoded_matmul<Dot>;
}

}  // namespace
}  // namespace dseek::kernels
