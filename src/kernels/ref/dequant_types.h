// Internal to kernels/ref: the scalar dequantisers (and the few quantisers) of
// the GGUF types added beside the original five (dequantize.cpp calls them
// from dequantize_row / quantize_row).
// Each reads `nb` blocks from `src` (any alignment) into y[nb * block size]
// and reproduces ggml's to_float bit for bit: the same f32 operations in the
// same order, each rounded on its own (these files must not be compiled with
// FMA contraction), -0.0 kept.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/quant/blocks.h"

namespace dseek::kernels {

// Block i of `src`, copied out (sources need not be aligned).
template <class Block>
Block load_any_block(const void* src, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const std::byte*>(src) + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

// dequant_simple.cpp: the classic 32-blocks, the k-quants q2_K / q3_K,
// the non-linear iq4 pair, the ternary types and MXFP4.
void dequant_q4_1(const void* src, float* y, int64_t nb);
void dequant_q5_0(const void* src, float* y, int64_t nb);
void dequant_q5_1(const void* src, float* y, int64_t nb);
void dequant_q2_k(const void* src, float* y, int64_t nb);
void dequant_q3_k(const void* src, float* y, int64_t nb);
void dequant_iq4_nl(const void* src, float* y, int64_t nb);
void dequant_iq4_xs(const void* src, float* y, int64_t nb);
void dequant_tq1_0(const void* src, float* y, int64_t nb);
void dequant_tq2_0(const void* src, float* y, int64_t nb);
// MXFP4 follows the OCP MX spec: E2M1 value times 2^(e-127); e = 0xFF is NaN.
void dequant_mxfp4(const void* src, float* y, int64_t nb);
float e8m0_to_float(uint8_t e);

// dequant_iq.cpp: the grid (codebook) types.
void dequant_iq2_xxs(const void* src, float* y, int64_t nb);
void dequant_iq2_xs(const void* src, float* y, int64_t nb);
void dequant_iq2_s(const void* src, float* y, int64_t nb);
void dequant_iq3_xxs(const void* src, float* y, int64_t nb);
void dequant_iq3_s(const void* src, float* y, int64_t nb);
void dequant_iq1_s(const void* src, float* y, int64_t nb);
void dequant_iq1_m(const void* src, float* y, int64_t nb);

// quantize_more.cpp: writers for the most common low-bit types (nb blocks from x).
void quant_q2_k(const float* x, void* dst, int64_t nb);
void quant_q3_k(const float* x, void* dst, int64_t nb);
void quant_iq4_nl(const float* x, void* dst, int64_t nb);
void quant_iq4_xs(const float* x, void* dst, int64_t nb);
// The q2_K / q3_K blocks from per-16 sub-block scales (quantize_more.cpp;
// the weighted writers choose the scales their own way): q2_K x ~ step*q - low,
// q3_K x ~ scale*q; both quantise the scales to the block's and pick levels.
void pack_q2_k(const float* x, const float* step, const float* low, BlockQ2_K& b);
void pack_q3_k(const float* x, const float* scale, BlockQ3_K& b);
// quantize_weighted_k.cpp: the same with importance weights imp[nb * 256].
void quant_q2_k_weighted(const float* x, const float* imp, void* dst, int64_t nb);
void quant_q3_k_weighted(const float* x, const float* imp, void* dst, int64_t nb);
// quantize_simple.cpp: q4_1, q5_0, q5_1.
void quant_q4_1(const float* x, void* dst, int64_t nb);
void quant_q5_0(const float* x, void* dst, int64_t nb);
void quant_q5_1(const float* x, void* dst, int64_t nb);

}  // namespace dseek::kernels
