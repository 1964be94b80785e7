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

}  // namespace dseek
