// Entry points of the f32-activation matrix kernels (matvec, matmul,
// matvec_t_accumulate): the active backend's row kernels where it has one for
// the weight type, else the scalar references. Every path gives each (token,
// row) the bits of the ISA's f32 dot on the reference-dequantised row.
#include <algorithm>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

const DotRowTable& rows_table() { return backend().rows; }

// FP8 rows on the SIMD path: the ISA's E4M3 converter, then the block scale
// applied exactly as the reference applies it (one f32 multiply per element),
// so the row values are the reference's and the dot is the ISA's f32 dot on them.
DequantRowFn fp8_converter(const MatrixView& w) {
  const DotRowTable& t = rows_table();
  return w.dtype == DType::kF8E4M3 && t.dot[DType::kF32] ? t.dequant[DType::kF8E4M3] : nullptr;
}

void dequant_fp8_row(const MatrixView& w, DequantRowFn convert, int64_t r, float* out) {
  convert(w.data + static_cast<uint64_t>(r) * w.row_bytes, out, w.cols);
  if (!w.block_scale) return;
  const float* s = fp8_row_scales(w, r);
  for (int64_t b = 0; b * kFp8Block < w.cols; ++b) {
    const float scale = s[b];
    float* o = out + b * kFp8Block;
    const int64_t n = std::min(kFp8Block, w.cols - b * kFp8Block);
    for (int64_t c = 0; c < n; ++c) o[c] *= scale;
  }
}

const std::byte* row_of(const MatrixView& w, int64_t r) { return w.data + static_cast<uint64_t>(r) * w.row_bytes; }

// Rows [r0, r0+nr) as floats: plain f32 rows in place, others dequantised into buf.
void row_block(const MatrixView& w, DequantRowFn fp8, int64_t r0, int64_t nr, float* buf, const float** rows) {
  const DequantRowFn dq = rows_table().dequant[w.dtype];
  for (int64_t i = 0; i < nr; ++i) {
    const std::byte* row = row_of(w, r0 + i);
    if (w.dtype == DType::kF32) {
      rows[i] = reinterpret_cast<const float*>(row);
      continue;
    }
    float* dst = buf + i * w.cols;
    if (fp8) dequant_fp8_row(w, fp8, r0 + i, dst);
    else if (dq) dq(row, dst, w.cols);
    else dequantize_row(w.dtype, row, dst, w.cols);
    rows[i] = dst;
  }
}

// Many tokens: dequantise a block of rows once (SIMD when available) and run
// the register-tiled f32 kernel over the block and all tokens. f32_many equals
// the f32 dot pair by pair, so each output has matvec's bits.
void matmul_row_blocks(const MatrixView& w, DequantRowFn fp8, const float* x, int64_t x_stride, int64_t n_tok,
                       float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
  constexpr int64_t kRowBlock = 16;  // dequantised rows stay in L2 while all tokens pass over them
  const DotRowFn f32 = rows_table().dot[DType::kF32];
  const DotManyFn many = rows_table().f32_many;
  std::vector<float> buf(w.dtype == DType::kF32 ? 0 : static_cast<size_t>(kRowBlock * w.cols));
  std::vector<float> out(static_cast<size_t>(kRowBlock * n_tok));
  std::vector<const float*> xs(static_cast<size_t>(n_tok));
  for (int64_t t = 0; t < n_tok; ++t) xs[static_cast<size_t>(t)] = x + t * x_stride;
  const float* rows[kRowBlock];
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowBlock) {
    const int64_t nr = std::min(kRowBlock, row_end - r0);
    row_block(w, fp8, r0, nr, buf.data(), rows);
    if (many) {
      many(rows, nr, xs.data(), n_tok, w.cols, out.data());
    } else {
      for (int64_t i = 0; i < nr; ++i)
        for (int64_t t = 0; t < n_tok; ++t)
          out[static_cast<size_t>(i * n_tok + t)] =
              f32(reinterpret_cast<const std::byte*>(rows[i]), xs[static_cast<size_t>(t)], w.cols);
    }
    // Token-major: each token's nr outputs are adjacent in y (row-major
    // stores; the other order touched a new cache line per store).
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t i = 0; i < nr; ++i) y[t * y_stride + r0 + i] = out[static_cast<size_t>(i * n_tok + t)];
  }
}

}  // namespace

void matvec(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  const DotRowTable& t = rows_table();
  if (const DotRowFn fast = w.block_scale ? nullptr : t.dot[w.dtype]) {
    for (int64_t r = row_begin; r < row_end; ++r) y[r] = fast(row_of(w, r), x, w.cols);
    return;
  }
  if (const DotScaledFn fused = t.f8_e4m3_scaled; fused && w.block_scale && w.dtype == DType::kF8E4M3) {
    for (int64_t r = row_begin; r < row_end; ++r) y[r] = fused(row_of(w, r), fp8_row_scales(w, r), x, w.cols);
    return;
  }
  if (const DequantRowFn convert = fp8_converter(w)) {
    const DotRowFn f32 = t.dot[DType::kF32];
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = row_begin; r < row_end; ++r) {
      dequant_fp8_row(w, convert, r, row.data());
      y[r] = f32(reinterpret_cast<const std::byte*>(row.data()), x, w.cols);
    }
    return;
  }
  matvec_ref(w, x, y, row_begin, row_end);
}

void matmul(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tok, float* y, int64_t y_stride,
            int64_t row_begin, int64_t row_end) {
  if (n_tok == 1) return matvec(w, x, y, row_begin, row_end);
  const DequantRowFn fp8 = fp8_converter(w);
  const DotRowFn fast = w.block_scale ? nullptr : rows_table().dot[w.dtype];
  if (!fast && !fp8) return matmul_ref(w, x, x_stride, n_tok, y, y_stride, row_begin, row_end);
  // Each fast kernel equals the ISA's f32 dot on the dequantised row (its
  // canonical order), so every path gives the bits of matvec on one token:
  // batch invariance by construction. Few tokens: the fused dot per token.
  if (n_tok < 4 && fast) {
    for (int64_t r = row_begin; r < row_end; ++r)
      for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] = fast(row_of(w, r), x + t * x_stride, w.cols);
    return;
  }
  matmul_row_blocks(w, fp8, x, x_stride, n_tok, y, y_stride, row_begin, row_end);
}

void matvec_t_accumulate(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  // Whole rows through the SIMD dequantiser when there is one (its values equal
  // the reference's bit for bit, so the sums are the same); naive MLA's K
  // decompression runs this per position and head.
  const DequantRowFn dq = w.block_scale ? nullptr : rows_table().dequant[w.dtype];
  if (!dq && (w.dtype != DType::kF32 || w.block_scale)) return matvec_t_accumulate_ref(w, x, y, row_begin, row_end);
  std::vector<float> row_buf(dq ? static_cast<size_t>(w.cols) : 0);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const std::byte* raw = row_of(w, r);
    const float* row = reinterpret_cast<const float*>(raw);
    if (dq) {
      dq(raw, row_buf.data(), w.cols);
      row = row_buf.data();
    }
    const float xr = x[r];
    for (int64_t i = 0; i < w.cols; ++i) y[i] += xr * row[i];
  }
}

}  // namespace dseek::kernels
