// Internal to kernels/: one weight row (in its stored type) dotted with an
// f32 activation vector. One function per (ISA, dtype) in dot_row_<isa>.cpp,
// each compiled with its own -m flags; cpu/dispatch.cpp picks one by CPUID once.
// The summation order is fixed per ISA and n, never by other rows or threads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/per_dtype.h"

namespace dseek::kernels {

using DotRowFn = float (*)(const std::byte* row, const float* x, int64_t n);
// Dequantises a row to f32 with exactly the reference's values (dequantize_row).
using DequantRowFn = void (*)(const std::byte* row, float* out, int64_t n);

// out[r * n_x + t] = f32(w[r], x[t]) for every pair, bit for bit, computed in
// register tiles that reuse each load (the GEMM core of prefill).
using DotManyFn = void (*)(const float* const* w, int64_t n_rows, const float* const* x, int64_t n_x, int64_t n,
                           float* out);

// y[i] += a * x[i], each element one fused multiply-add (exactly rounded, so
// every ISA and the scalar fallback give the same bits).
using AxpyFn = void (*)(float a, const float* x, float* y, int64_t n);

// out[h][i] = sum over s ascending of p[s * n_out + h] * rows[s][i], one
// fused multiply-add per term from zero: for every (h, i) exactly the bits of
// n_rows axpy calls onto a zeroed out[h] (attention's weighted sum of latents,
// with all heads sharing one read of each cached row).
using WeightedRowsFn = void (*)(const float* p, int64_t n_rows, int64_t n_out, const float* const* rows, int64_t dim,
                                float* out);

// An FP8 E4M3 row times x with the row's per-128-column scales (scales[c/128]):
// the bits of dot_f32 on the row dequantised and scaled (one f32 multiply per
// element), without writing that row out.
using DotScaledFn = float (*)(const std::byte* row, const float* scales, const float* x, int64_t n);

// Sum of n doubles read once from memory (the bandwidth probe's inner loop):
// several independent vector accumulators so loads, not add latency, limit it.
using StreamSumFn = double (*)(const double* a, int64_t n);

struct DotRowTable {
  Isa isa = Isa::kScalar;
  PerDType<DotRowFn> dot;           // the fused row dot per weight type
  PerDType<DequantRowFn> dequant;   // the SIMD dequantiser per weight type (dequantize_row's values)
  DotManyFn f32_many = nullptr;     // nullptr: callers loop over dot[kF32]
  AxpyFn axpy = nullptr;
  StreamSumFn stream_sum = nullptr;
  WeightedRowsFn weighted_rows = nullptr;
  DotScaledFn f8_e4m3_scaled = nullptr;  // FP8 rows with block scales (the caller finds them: they need the row index)
};

DotRowTable dot_row_table_avx2();
DotRowTable dot_row_table_avx512();

}  // namespace dseek::kernels
