// Scalar reference matrix-vector kernels over weights in their stored type,
// and the small elementwise ops (RMSNorm, softmax, SiLU, RoPE). Quantised rows
// are dequantised 256 elements at a time into a stack buffer: no heap, no
// second copy of the weights. Sums run in a fixed order (deterministic).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/float_convert.h"
#include "kernels/cpu/dot_row.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/kernels.h"

namespace dseek::kernels {
namespace {

constexpr int64_t kChunk = 256;  // a multiple of every block size
constexpr int64_t kFp8Block = 128;

// Row r's per-128-column FP8 scales (block_scale is indexed by the full tensor's rows).
const float* fp8_scale_row(const MatrixView& w, int64_t r) {
  const int64_t n_col_blocks = (w.cols + kFp8Block - 1) / kFp8Block;
  return w.block_scale + ((r + w.scale_row_offset) / kFp8Block) * n_col_blocks;
}

// Dequantises elements [c0, c0+n) of row r into out (n <= kChunk, c0 block-aligned).
void load_chunk(const MatrixView& w, int64_t r, int64_t c0, int64_t n, float* out) {
  const auto& tr = dtype_traits(w.dtype);
  const std::byte* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
  const std::byte* src = row + (c0 / tr.block_size) * tr.type_size;
  dequantize_row(w.dtype, src, out, n);
  if (w.block_scale) {
    const float* s = fp8_scale_row(w, r);
    for (int64_t i = 0; i < n; ++i) out[i] *= s[(c0 + i) / kFp8Block];
  }
}

// FP8 rows on the SIMD path: the ISA's E4M3 converter, then the block scale
// applied exactly as load_chunk applies it (one f32 multiply per element), so
// the row values are the reference's and the dot is the ISA's dot_f32 on them.
DequantRowFn fp8_converter(const MatrixView& w) {
  return w.dtype == DType::kF8E4M3 && select_dot_row(DType::kF32) ? select_dequant_row(DType::kF8E4M3) : nullptr;
}

void dequant_fp8_row(const MatrixView& w, DequantRowFn convert, int64_t r, float* out) {
  convert(w.data + static_cast<uint64_t>(r) * w.row_bytes, out, w.cols);
  if (!w.block_scale) return;
  const float* s = fp8_scale_row(w, r);
  for (int64_t b = 0; b * kFp8Block < w.cols; ++b) {
    const float scale = s[b];
    float* o = out + b * kFp8Block;
    const int64_t n = std::min(kFp8Block, w.cols - b * kFp8Block);
    for (int64_t c = 0; c < n; ++c) o[c] *= scale;
  }
}

}  // namespace

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

void matvec(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  if (const DotRowFn fast = w.block_scale ? nullptr : select_dot_row(w.dtype)) {
    for (int64_t r = row_begin; r < row_end; ++r) y[r] = fast(w.data + static_cast<uint64_t>(r) * w.row_bytes, x, w.cols);
    return;
  }
  if (const DotScaledFn fused = active_dot_rows().f8_e4m3_scaled; fused && w.block_scale && w.dtype == DType::kF8E4M3) {
    for (int64_t r = row_begin; r < row_end; ++r)
      y[r] = fused(w.data + static_cast<uint64_t>(r) * w.row_bytes, fp8_scale_row(w, r), x, w.cols);
    return;
  }
  if (const DequantRowFn convert = fp8_converter(w)) {
    const DotRowFn f32 = select_dot_row(DType::kF32);
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = row_begin; r < row_end; ++r) {
      dequant_fp8_row(w, convert, r, row.data());
      y[r] = f32(reinterpret_cast<const std::byte*>(row.data()), x, w.cols);
    }
    return;
  }
  matvec_ref(w, x, y, row_begin, row_end);
}

void matvec_ref(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  float buf[kChunk];
  for (int64_t r = row_begin; r < row_end; ++r) {
    float acc = 0.0f;
    for (int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
      const int64_t n = std::min(kChunk, w.cols - c0);
      const float* src = buf;
      if (w.dtype == DType::kF32 && !w.block_scale)
        src = reinterpret_cast<const float*>(w.data + static_cast<uint64_t>(r) * w.row_bytes) + c0;
      else
        load_chunk(w, r, c0, n, buf);
      acc += dot_ref(src, x + c0, n);
    }
    y[r] = acc;
  }
}

void matmul(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tok, float* y, int64_t y_stride,
            int64_t row_begin, int64_t row_end) {
  if (n_tok == 1) return matvec(w, x, y, row_begin, row_end);
  const DequantRowFn fp8 = fp8_converter(w);
  if (const DotRowFn fast = w.block_scale ? nullptr : select_dot_row(w.dtype); fast || fp8) {
    // Each fast kernel equals the ISA's dot_f32 on the dequantised row (its
    // canonical order), and f32_many equals dot_f32 pair by pair, so every
    // path below gives the bits of matvec on one token: batch invariance by
    // construction. Few tokens: the fused dot per token. More: dequantise a
    // block of rows once (SIMD when available) and run the register-tiled
    // f32 kernel over the block and all tokens.
    if (n_tok < 4 && fast) {
      for (int64_t r = row_begin; r < row_end; ++r) {
        const std::byte* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
        for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] = fast(row, x + t * x_stride, w.cols);
      }
      return;
    }
    constexpr int64_t kRowBlock = 16;  // dequantised rows stay in L2 while all tokens pass over them
    const DotRowFn f32 = select_dot_row(DType::kF32);
    const DotManyFn many = active_dot_rows().f32_many;
    const DequantRowFn dq = select_dequant_row(w.dtype);
    const bool is_f32 = w.dtype == DType::kF32;
    std::vector<float> buf(is_f32 ? 0 : static_cast<size_t>(kRowBlock * w.cols));
    std::vector<float> out(static_cast<size_t>(kRowBlock * n_tok));
    std::vector<const float*> xs(static_cast<size_t>(n_tok));
    for (int64_t t = 0; t < n_tok; ++t) xs[static_cast<size_t>(t)] = x + t * x_stride;
    const float* rows[kRowBlock];
    for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowBlock) {
      const int64_t nr = std::min(kRowBlock, row_end - r0);
      for (int64_t i = 0; i < nr; ++i) {
        const std::byte* row = w.data + static_cast<uint64_t>(r0 + i) * w.row_bytes;
        if (is_f32) {
          rows[i] = reinterpret_cast<const float*>(row);
          continue;
        }
        float* dst = buf.data() + i * w.cols;
        if (fp8) dequant_fp8_row(w, fp8, r0 + i, dst);
        else if (dq) dq(row, dst, w.cols);
        else dequantize_row(w.dtype, row, dst, w.cols);
        rows[i] = dst;
      }
      if (many) {
        many(rows, nr, xs.data(), n_tok, w.cols, out.data());
      } else {
        for (int64_t i = 0; i < nr; ++i)
          for (int64_t t = 0; t < n_tok; ++t)
            out[static_cast<size_t>(i * n_tok + t)] = f32(reinterpret_cast<const std::byte*>(rows[i]), xs[static_cast<size_t>(t)], w.cols);
      }
      // Token-major: each token's nr outputs are adjacent in y (row-major
      // stores; the other order touched a new cache line per store).
      for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t i = 0; i < nr; ++i) y[t * y_stride + r0 + i] = out[static_cast<size_t>(i * n_tok + t)];
    }
    return;
  }
  float buf[kChunk];
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] = 0.0f;
    for (int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
      const int64_t n = std::min(kChunk, w.cols - c0);
      const float* src = buf;
      if (w.dtype == DType::kF32 && !w.block_scale)
        src = reinterpret_cast<const float*>(w.data + static_cast<uint64_t>(r) * w.row_bytes) + c0;
      else
        load_chunk(w, r, c0, n, buf);
      for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] += dot_ref(src, x + t * x_stride + c0, n);  // as matvec_ref: batch invariance
    }
  }
}

void matvec_t_accumulate(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  // Whole rows through the SIMD dequantiser when there is one (its values equal
  // the reference's bit for bit, so the sums are the same); naive MLA's K
  // decompression runs this per position and head.
  const DequantRowFn dq = w.block_scale ? nullptr : select_dequant_row(w.dtype);
  if (dq || (w.dtype == DType::kF32 && !w.block_scale)) {
    std::vector<float> row_buf(dq ? static_cast<size_t>(w.cols) : 0);
    for (int64_t r = row_begin; r < row_end; ++r) {
      const std::byte* raw = w.data + static_cast<uint64_t>(r) * w.row_bytes;
      const float* row = reinterpret_cast<const float*>(raw);
      if (dq) {
        dq(raw, row_buf.data(), w.cols);
        row = row_buf.data();
      }
      const float xr = x[r];
      for (int64_t i = 0; i < w.cols; ++i) y[i] += xr * row[i];
    }
    return;
  }
  float buf[kChunk];
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float xr = x[r];
    for (int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
      const int64_t n = std::min(kChunk, w.cols - c0);
      load_chunk(w, r, c0, n, buf);
      for (int64_t i = 0; i < n; ++i) y[c0 + i] += xr * buf[i];
    }
  }
}

float dot(const float* a, const float* b, int64_t n) {
  // The ISA's f32 row dot (a fixed order per machine, like every kernel here);
  // attention's q.k products run through this, per (query, key) pair.
  static const DotRowFn fast = select_dot_row(DType::kF32);
  if (fast) return fast(reinterpret_cast<const std::byte*>(a), b, n);
  return dot_ref(a, b, n);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  static const AxpyFn fast = active_dot_rows().axpy;
  if (fast) return fast(a, x, y, n);
  axpy_ref(a, x, y, n);
}

void dot_many(const float* const* a, int64_t n_a, const float* const* b, int64_t n_b, int64_t n, float* out) {
  static const DotManyFn many = active_dot_rows().f32_many;
  if (many) return many(a, n_a, b, n_b, n, out);
  for (int64_t i = 0; i < n_a; ++i)
    for (int64_t j = 0; j < n_b; ++j) out[i * n_b + j] = dot(a[i], b[j], n);
}

void weighted_sum_rows(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim, float* out) {
  static const WeightedRowsFn fast = active_dot_rows().weighted_rows;
  if (fast) return fast(p, n_rows, n_out, rows, dim, out);
  weighted_sum_rows_ref(p, n_rows, n_out, rows, dim, out);
}

void weighted_sum_rows_ref(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim,
                           float* out) {
  for (int64_t h = 0; h < n_out; ++h) {
    float* o = out + h * dim;
    std::fill(o, o + dim, 0.0f);
    for (int64_t s = 0; s < n_rows; ++s) axpy_ref(p[s * n_out + h], rows[s], o, dim);
  }
}

double stream_sum(const double* a, int64_t n) {
  static const StreamSumFn fast = active_dot_rows().stream_sum;
  if (fast) return fast(a, n);
  double s[4] = {};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] += a[i + k];
  for (; i < n; ++i) s[0] += a[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

void axpy_ref(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

float dot_ref(const float* a, const float* b, int64_t n) {
  // Eight partial sums in a fixed pattern: vectorisable and order-deterministic.
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  float tail = 0.0f;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  static const ExpShiftFn fast_exp = active_elementwise().exp_shift;
  const float mx = *std::max_element(x, x + n);
  if (fast_exp) {
    fast_exp(x, mx, n);
  } else {
    for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - mx);
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  static const SiluMulFn fast = active_elementwise().silu_mul;
  if (fast) return fast(gate, up, out, n);
  silu_mul_ref(gate, up, out, n);
}

void silu_mul_ref(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void rope_adjacent(float* x, int64_t n_dims, const float* cos, const float* sin) {
  for (int64_t i = 0; i < n_dims / 2; ++i) {
    const float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cos[i] - b * sin[i];
    x[2 * i + 1] = a * sin[i] + b * cos[i];
  }
}

void rope_half_split(float* x, int64_t n_dims, const float* cos, const float* sin) {
  const int64_t h = n_dims / 2;
  for (int64_t i = 0; i < h; ++i) {
    const float a = x[i], b = x[i + h];
    x[i] = a * cos[i] - b * sin[i];
    x[i + h] = a * sin[i] + b * cos[i];
  }
}

}  // namespace dseek::kernels
