// The kernel entry points model code may call. Pure functions over views;
// callers split rows across threads. Implemented in kernels/*.cpp, which call
// the active backend's ISA kernels (kernels/cpu/dispatch.h) or the scalar
// references (kernels/ref/reference.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/quantized_acts.h"

namespace dseek {
struct LoraDelta;
}  // namespace dseek

namespace dseek::kernels {

// Dequantise `n` elements of type `t` (n a multiple of the block size) from
// `src` into `dst`. Reference implementation: bit-exact with ggml's.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// Quantise `n` floats to type `t` (used by `dseek init` / `quantize`);
// `dst` must hold dtype_bytes(t, n) bytes. Reference implementation.
void quantize_row(DType t, const float* src, void* dst, int64_t n);
// True where quantize_row can write type t (the other GGUF types are read only).
bool can_quantize(DType t);
// quantize_row minimising the error weighted by importance[c] >= 0 per column
// (an importance matrix's mean squared input of column c, n values) where t has
// a weighted writer (has_weighted_writer: iq4_nl, iq4_xs); otherwise, or with
// importance == nullptr, quantize_row itself (ref/quantize_weighted.cpp).
void quantize_row_weighted(DType t, const float* src, const float* importance, void* dst, int64_t n);
bool has_weighted_writer(DType t);

// FP8 E4M3 matrix [rows, cols] with DeepSeek-V3 block scales
// (scale_inv [ceil(rows/128), ceil(cols/128)], W = w_fp8 * scale_inv[block]):
// dequantise row `row` into dst[cols].
void dequantize_fp8_block_row(const uint8_t* w, const float* scale_inv, int64_t rows, int64_t cols,
                              int64_t row, float* dst, int64_t block = 128);

// A 2-D weight matrix in its stored type, read in place (never expanded to a
// float copy): row r is `row_bytes` bytes at data + r*row_bytes. FP8 weights
// carry DeepSeek-V3 block scales (W = w * scale_inv[r/128][c/128]).
struct MatrixView {
  DType dtype = DType::kF32;
  const std::byte* data = nullptr;
  int64_t rows = 0, cols = 0;
  uint64_t row_bytes = 0;
  const float* block_scale = nullptr;  // FP8 only: [ceil(rows/128)][ceil(cols/128)] of the full tensor
  int64_t scale_row_offset = 0;        // this view's first row within the full tensor (for block_scale)
  // A LoRA correction model/blocks/linear adds after the product (model/lora_adapter.h); kernels ignore it.
  const ::dseek::LoraDelta* lora = nullptr;
};
MatrixView make_matrix(DType dtype, const void* data, int64_t rows, int64_t cols, const float* block_scale = nullptr);
// Rows [first, first+n) of m as their own matrix (an expert's slice, a head's block).
MatrixView matrix_rows(const MatrixView& m, int64_t first, int64_t n);

// y[r] = sum_c W[r][c] * x[c] for r in [row_begin, row_end) (y indexed by r).
void matvec(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end);
// The same for n_tok vectors: Y[t][r] = sum_c W[r][c] * X[t][c]; each weight
// row is read once for all tokens. Per (t, r) the sum runs in the same order
// as matvec, so results do not depend on n_tok or on how rows are split.
void matmul(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tok, float* y, int64_t y_stride,
            int64_t row_begin, int64_t row_end);
// The int8-activation path (llama.cpp's scheme) for q8_0, q4_K, q6_K and
// every GGUF type of kernels/int8_decode/decoded_row.h (q2_K, q3_K, iq4_xs,
// mxfp4, the iq2/iq3/iq1 grids, ...): activations are quantised once per call into QuantizedActs, then
// each weight block is dotted with an activation block in integers, and the
// block sums are scaled and accumulated in a fixed float order (eight lanes,
// see kernels/ref/int8_matmul.cpp). Every ISA gives the reference's bits,
// for any n_tok and any row split: batch and thread invariance.
// True when w goes through matmul_q8 (quantised types without FP8 block scales).
bool uses_int8_path(const MatrixView& w);
// Quantises tokens [t_begin, t_end) of x[n_tok][out.cols] (row stride x_stride)
// into `out` (already resize()d); disjoint token ranges may run in parallel.
void quantize_activations(const float* x, int64_t x_stride, QuantizedActs& out, int64_t t_begin, int64_t t_end);
// Y[t][r] = sum_c W[r][c] * X[t][c] for rows [row_begin, row_end), all of x's tokens.
void matmul_q8(const MatrixView& w, const QuantizedActs& x, float* y, int64_t y_stride, int64_t row_begin,
               int64_t row_end);

// The int8 arithmetic peak probe: `iters` rounds of the active int8 path's dot
// step on twelve register accumulators (no memory traffic); returns the
// integer operations done (a multiply-add counts 2), 0 on the scalar path.
// Timing it on every thread gives the machine's int8 ceiling for prefill.
double int8_peak_probe(int64_t iters);

// y[c] += sum_{r in [row_begin,row_end)} x[r] * W[r][c]   (W transposed times x).
void matvec_t_accumulate(const MatrixView& w, const float* x, float* y, int64_t row_begin, int64_t row_end);

// sum a[i]*b[i]: the active ISA's f32 dot (fixed order).
float dot(const float* a, const float* b, int64_t n);
// y[i] += a * x[i] with one fused multiply-add per element: the same bits on
// every ISA (attention's weighted sums of latents and values).
void axpy(float a, const float* x, float* y, int64_t n);
// out[i * n_b + j] = dot(a[i], b[j], n) for all pairs, each bit-equal to
// dot(): register-tiled so each loaded vector serves several pairs.
void dot_many(const float* const* a, int64_t n_a, const float* const* b, int64_t n_b, int64_t n, float* out);
// out[h][i] (row stride dim) = sum over s = 0..n_rows-1 of p[s * n_out + h] * rows[s][i],
// one fused multiply-add per term starting from zero: the bits of n_rows
// axpy() calls onto a zeroed out[h], whatever the ISA (attention's weighted
// sum of cached rows for several heads, each row read once for all of them).
void weighted_sum_rows(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim, float* out);
// sum a[i], read at the full width of the active ISA (the memory-bandwidth
// probe's loop; summation order is ISA-specific, the value is only a checksum).
double stream_sum(const double* a, int64_t n);
// y = x / sqrt(mean(x^2) + eps) * w   (y may alias x)
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);
// In-place softmax over n values. Its exponentials and silu_mul's are the
// active ISA's vector exp where there is one (within ~1 ulp of std::exp; a
// fixed function per machine, like the dots), else std::exp.
void softmax(float* x, int64_t n);
// out[i] = silu(gate[i]) * up[i]
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
// Rotary embedding of one vector of n_dims by per-pair cos/sin (n_dims/2 each).
// Adjacent pairs (x[2i], x[2i+1]): DeepSeek MLA, GGUF llama. Half split
// (x[i], x[i+n/2]): "NeoX" style, Qwen2.
void rope_adjacent(float* x, int64_t n_dims, const float* cos, const float* sin);
void rope_half_split(float* x, int64_t n_dims, const float* cos, const float* sin);

// ---- Sparse attention: DeepSeek-V3.2's lightning indexer (kernels/dsa.cpp) ----
// x = H_n x / sqrt(n) in place, H_n the Sylvester Hadamard matrix (n a power of two).
void hadamard_rotate(float* x, int64_t n);
// FP8 E4M3 ("fn": no infinities, largest 448), round to nearest even, |x| clamped to 448.
uint8_t fp8_e4m3_from_float(float x);
float fp8_e4m3_to_float(uint8_t v);
// One block quantised as DeepSeek's act_quant with scale_fmt "ue8m0": returns
// scale = 2^ceil(log2(max(amax, 1e-4) / 448)) and writes q[i] = e4m3(x[i] / scale).
float quantize_fp8_block_ue8m0(const float* x, int64_t n, uint8_t* q);
// Index scores of one query against n_keys cached keys. A key record is one
// f32 scale followed by `dim` E4M3 bytes; q [n_head][dim] holds the query's
// E4M3 values (decoded, unscaled) and w[h] folds in everything per head
// (weights_proj, q's scale, the 1/sqrt scalings):
//   out[s] = scale_s · Σ_h max(0, Σ_d q[h][d]·k_s[d]) · w[h]   (fp8_index's order)
void dsa_index_scores(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys,
                      int64_t n_keys, float* out);
// The positions of the min(k, n) largest scores, in ascending position order;
// of equal scores the earlier position wins. scratch: n int32.
void top_k_positions(const float* scores, int64_t n, int64_t k, int32_t* out, int32_t* scratch);

}  // namespace dseek::kernels
