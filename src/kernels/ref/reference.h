// The scalar references of the kernels: plain loops in a fixed order, with no
// ISA-specific code. They define what every ISA's kernel computes (the tests
// compare each one with them, bit for bit where the kernel promises the
// reference's bits) and are the entry points' fallbacks where this CPU has no
// kernel for a type. dequantize_row and quantize_row (kernels.h) are
// references too: they are the only implementation (ref/dequantize.cpp).
#pragma once

#include <array>
#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/quantized_acts.h"

namespace dseek::kernels {

inline constexpr int64_t kFp8Block = 128;  // DeepSeek-V3's FP8 scale blocks are 128 x 128

// Row r's per-128-column FP8 scales (block_scale is indexed by the full tensor's rows).
const float* fp8_row_scales(const MatrixView& w, int64_t r);

// matvec, matmul and matvec_t_accumulate (kernels.h) over rows dequantised
// 256 elements at a time into a stack buffer, each chunk dotted with dot_ref.
// matmul_ref gives every token matvec_ref's bits (batch invariance).
void matvec_ref(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end);
void matmul_ref(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tok, float* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end);
void matvec_t_accumulate_ref(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end);

// matmul_q8 and quantize_activations: the canonical int8 order (ref/int8_matmul.cpp).
void matmul_q8_ref(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                   int64_t row_end);
void quantize_activations_ref(const float* x, int64_t x_stride, QuantizedActs& out, int64_t t_begin, int64_t t_end);
// matmul_q8_ref's part for the decoded-row types (ref/int8_decoded.cpp, int8_decode/decoded_row.h).
void matmul_decoded_ref(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end);

// sum a[i]*b[i] in eight partial sums of a fixed pattern.
float dot_ref(const float* a, const float* b, int64_t n);
// y[i] = fma(a, x[i], y[i]).
void axpy_ref(float a, const float* x, float* y, int64_t n);
// n_rows axpy_ref calls per head onto a zeroed out[h].
void weighted_sum_rows_ref(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim,
                           float* out);
// sum a[i] in four partial sums (a checksum: the ISAs' orders differ).
double stream_sum_ref(const double* a, int64_t n);

// out[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i].
void silu_mul_ref(const float* gate, const float* up, float* out, int64_t n);
// x[i] = std::exp(x[i] - shift) (softmax's numerators).
void exp_shift_ref(float* x, float shift, int64_t n);

// The lightning-indexer kernels (kernels.h "Sparse attention"; ref/dsa.cpp).
// fp8_table()[code] = the E4M3 code's value (NaN for 0x7F / 0xFF).
const std::array<float, 256>& fp8_table();
void hadamard_rotate_ref(float* x, int64_t n);
uint8_t fp8_e4m3_from_float_ref(float x);
float fp8_e4m3_to_float_ref(uint8_t v);
// act_quant's ue8m0 scale of a block: 2^ceil(log2(max(amax, 1e-4) / 448)).
float ue8m0_scale(float amax);
float quantize_fp8_block_ue8m0_ref(const float* x, int64_t n, uint8_t* q);
void dsa_index_scores_ref(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys,
                          int64_t n_keys, float* out);
void top_k_positions_ref(const float* scores, int64_t n, int64_t k, int32_t* out, int32_t* scratch);

}  // namespace dseek::kernels
