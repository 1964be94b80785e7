// The kernel entry points model code may call. Pure functions over views;
// callers split rows across threads. Scalar references live in kernels/ref/,
// ISA variants in kernels/cpu/ (picked at run time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "core/status.h"

namespace dseek::kernels {

// Dequantise `n` elements of type `t` (n a multiple of the block size) from
// `src` into `dst`. Reference implementation: bit-exact with ggml's.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// Quantise `n` floats to type `t` (used by `dseek init` / `quantize`);
// `dst` must hold dtype_bytes(t, n) bytes. Reference implementation.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

// FP8 E4M3 matrix [rows, cols] with DeepSeek-V3 block scales
// (scale_inv [ceil(rows/128), ceil(cols/128)], W = w_fp8 * scale_inv[block]):
// dequantise row `row` into dst[cols].
void dequantize_fp8_block_row(const uint8_t* w, const float* scale_inv, int64_t rows, int64_t cols,
                              int64_t row, float* dst, int64_t block = 128);

}  // namespace dseek::kernels
