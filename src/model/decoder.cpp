// See decoder.h.
#include "model/decoder.h"

#include <cstring>

#include "model/blocks/linear.h"

namespace dseek {
namespace {

// Moves the rows whose logits are wanted to the front of x, in batch order
// (a row only ever moves towards the front); returns how many there are.
int64_t pack_logit_rows(std::span<const SeqBatch> batch, std::span<const CacheSpan> seqs, float* x, int64_t n_embd) {
  int64_t n = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].want_logits) continue;
    const int64_t count = batch[i].all_rows ? seqs[i].n_tok : 1;
    const int64_t first = seqs[i].first + seqs[i].n_tok - count;
    if (first != n) std::memmove(x + n * n_embd, x + first * n_embd, static_cast<size_t>(count * n_embd) * sizeof(float));
    n += count;
  }
  return n;
}

}  // namespace

void Decoder::embed_row(int32_t token, float* out) const {
  const kernels::MatrixView& e = trunk_.embd;
  kernels::dequantize_row(e.dtype, e.data + static_cast<uint64_t>(token) * e.row_bytes, out, trunk_.n_embd);
}

void Decoder::run_trunk(std::span<const int32_t> tokens, const LayerStep& step, float* x, float* streams) const {
  const int64_t T = static_cast<int64_t>(tokens.size()), E = trunk_.n_embd, n = trunk_.n_streams;
  for (int64_t t = 0; t < T; ++t) {
    float* row = x + t * n * E;
    embed_row(tokens[static_cast<size_t>(t)], row);
    for (int64_t j = 1; j < n; ++j) std::memcpy(row + j * E, row, static_cast<size_t>(E) * sizeof(float));
  }
  LayerStep with_tokens = step;
  with_tokens.tokens = tokens;
  for (int64_t l = 0; l < trunk_.n_layer; ++l) run_layer(l, x, with_tokens);
  if (streams) std::memcpy(streams, x, static_cast<size_t>(T * n * E) * sizeof(float));
  finish_trunk(x, with_tokens);
}

void Decoder::finish_trunk(float* x, const LayerStep& step) const {
  rms_norm_rows(x, trunk_.out_norm, x, step.n_tok, trunk_.n_embd, trunk_.eps);
}

Status Decoder::forward_batch(std::span<const SeqBatch> batch, ThreadPool& pool, const ForwardOptions& opt,
                              float* logits) const {
  auto layout = layout_batch(batch, trunk_.n_vocab);
  if (!layout.ok()) return layout.status();
  if (layout->tokens.empty()) return ok_status();
  if (Status st = check_caches(layout->seqs); !st.ok()) return st;
  StepArena own;
  StepArena& arena = opt.arena ? *opt.arena : own;
  arena.reset();
  arena.set_linear_observer(opt.observer);
  const int64_t T = static_cast<int64_t>(layout->tokens.size()), E = trunk_.n_embd;
  float* x = arena.take<float>(T * trunk_.n_streams * E);
  const LayerStep step{pool, layout->seqs, T, opt.mode, arena};
  run_trunk(layout->tokens, step, x, hidden_is_streams() ? opt.hidden : nullptr);
  if (opt.hidden && !hidden_is_streams()) std::memcpy(opt.hidden, x, static_cast<size_t>(T * E) * sizeof(float));
  const int64_t rows = pack_logit_rows(batch, layout->seqs, x, E);
  if (rows > 0) linear(pool, trunk_.head, x, rows, logits, arena);
  advance_caches(batch);
  return ok_status();
}

}  // namespace dseek
