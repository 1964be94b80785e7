// See mtp_input.h.
#include "model/blocks/mtp_input.h"

#include "model/blocks/linear.h"

namespace dseek {

void mtp_input(ThreadPool& pool, const MtpInputWeights& w, const kernels::MatrixView& embd, const float* h,
               std::span<const int32_t> next, int64_t n_embd, float eps, float* x, StepArena& arena) {
  const int64_t n = static_cast<int64_t>(next.size()), E = n_embd;
  float* cat = arena.take<float>(n * 2 * E);
  for (int64_t i = 0; i < n; ++i) {
    float* row = cat + i * 2 * E;
    kernels::dequantize_row(embd.dtype, embd.data + static_cast<uint64_t>(next[static_cast<size_t>(i)]) * embd.row_bytes,
                            row, E);
    kernels::rms_norm(row, w.enorm, row, E, eps);
    kernels::rms_norm(h + i * E, w.hnorm, row + E, E, eps);
  }
  linear(pool, w.eh_proj, cat, n, x, arena);
}

void mtp_stream_input(ThreadPool& pool, const MtpStreamInputWeights& w, const kernels::MatrixView& embd, const float* h,
                      std::span<const int32_t> next, int64_t n_streams, int64_t n_embd, float eps, float* x,
                      StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t n = static_cast<int64_t>(next.size()), E = n_embd, S = n_streams;
  float* e = arena.take<float>(n * E);
  float* hn = arena.take<float>(n * S * E);
  for (int64_t i = 0; i < n; ++i) {
    float* row = e + i * E;
    kernels::dequantize_row(embd.dtype, embd.data + static_cast<uint64_t>(next[static_cast<size_t>(i)]) * embd.row_bytes,
                            row, E);
    kernels::rms_norm(row, w.enorm, row, E, eps);
    for (int64_t k = 0; k < S; ++k) kernels::rms_norm(h + (i * S + k) * E, w.hnorm, hn + (i * S + k) * E, E, eps);
  }
  float* pe = arena.take<float>(n * E);
  linear(pool, w.e_proj, e, n, pe, arena);
  linear(pool, w.h_proj, hn, n * S, x, arena);  // one row per stream
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < S; ++k)
      for (int64_t j = 0; j < E; ++j) x[(i * S + k) * E + j] += pe[i * E + j];
}

}  // namespace dseek
