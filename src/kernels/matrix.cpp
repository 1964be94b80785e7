// MatrixView construction: a weight tensor read in place, and row slices of it.
#include "kernels/kernels.h"

namespace dseek::kernels {

MatrixView make_matrix(DType dtype, const void* data, int64_t rows, int64_t cols, const float* block_scale) {
  MatrixView m;
  m.dtype = dtype;
  m.data = static_cast<const std::byte*>(data);
  m.rows = rows;
  m.cols = cols;
  m.row_bytes = dtype_bytes(dtype, cols).value_or(0);
  m.block_scale = block_scale;
  return m;
}

MatrixView matrix_rows(const MatrixView& m, int64_t first, int64_t n) {
  MatrixView s = m;
  s.data = m.data + static_cast<uint64_t>(first) * m.row_bytes;
  s.rows = n;
  s.scale_row_offset = m.scale_row_offset + first;  // FP8 block scales are indexed by row in the full tensor
  return s;
}

}  // namespace dseek::kernels
