// Scalar reference matrix-vector kernels over weights in their stored type.
// Quantised rows are dequantised 256 elements at a time into a stack buffer:
// no heap, no second copy of the weights. Sums run in a fixed order
// (deterministic, and the same for one token or many).
#include <algorithm>

#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

constexpr int64_t kChunk = 256;  // a multiple of every block size

// Elements [c0, c0+n) of row r as floats (n <= kChunk, c0 block-aligned): in
// place for plain f32 rows, else dequantised (and FP8-scaled) into buf.
const float* row_chunk(const MatrixView& w, int64_t r, int64_t c0, int64_t n, float* buf) {
  const std::byte* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
  if (w.dtype == DType::kF32 && !w.block_scale) return reinterpret_cast<const float*>(row) + c0;
  const auto& tr = dtype_traits(w.dtype);
  dequantize_row(w.dtype, row + (c0 / tr.block_size) * tr.type_size, buf, n);
  if (w.block_scale) {
    const float* s = fp8_row_scales(w, r);
    for (int64_t i = 0; i < n; ++i) buf[i] *= s[(c0 + i) / kFp8Block];
  }
  return buf;
}

}  // namespace

const float* fp8_row_scales(const MatrixView& w, int64_t r) {
  const int64_t n_col_blocks = (w.cols + kFp8Block - 1) / kFp8Block;
  return w.block_scale + ((r + w.scale_row_offset) / kFp8Block) * n_col_blocks;
}

void matvec_ref(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  float buf[kChunk];
  for (int64_t r = row_begin; r < row_end; ++r) {
    float acc = 0.0f;
    for (int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
      const int64_t n = std::min(kChunk, w.cols - c0);
      acc += dot_ref(row_chunk(w, r, c0, n, buf), x + c0, n);
    }
    y[r] = acc;
  }
}

void matmul_ref(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tok, float* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
  float buf[kChunk];
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] = 0.0f;
    for (int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
      const int64_t n = std::min(kChunk, w.cols - c0);
      const float* src = row_chunk(w, r, c0, n, buf);
      for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] += dot_ref(src, x + t * x_stride + c0, n);  // as matvec_ref
    }
  }
}

void matvec_t_accumulate_ref(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  float buf[kChunk];
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float xr = x[r];
    for (int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
      const int64_t n = std::min(kChunk, w.cols - c0);
      const float* src = row_chunk(w, r, c0, n, buf);
      for (int64_t i = 0; i < n; ++i) y[c0 + i] += xr * src[i];
    }
  }
}

}  // namespace dseek::kernels
