// See v4_indexer.h: index keys, queries, scores over the visible entries, top-k.
#include "model/blocks/v4_indexer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/blocks/linear.h"

namespace dseek {
namespace {

// Where each row of the step sits: its sequence's keys and its position.
struct StepRows {
  const V4CompressedKv** keys;
  int64_t* pos;
  int64_t max_entries = 0;
};

StepRows step_rows(std::span<const V4IndexSpan> seqs, int64_t n_tok, int64_t ratio, StepArena& arena) {
  StepRows r{arena.take<const V4CompressedKv*>(n_tok), arena.take<int64_t>(n_tok)};
  for (const V4IndexSpan& sq : seqs) {
    const int64_t pos0 = sq.keys->n_tokens();
    for (int64_t i = 0; i < sq.n_tok; ++i) r.keys[sq.first + i] = sq.keys, r.pos[sq.first + i] = pos0 + i;
    r.max_entries = std::max(r.max_entries, v4_visible_entries(pos0 + sq.n_tok - 1, ratio));
  }
  return r;
}

struct RowScratch {
  float* cos_sin;
  float* scores;
  int32_t* order;
};

// Row t's queries (rotated in place in q), its scores against its visible entries, their top-k.
void select_row(const V4IndexerWeights& w, const RopeTable& rope, const V4CompressedKv& keys, int64_t pos, float* q,
                const float* weights, const RowScratch& s, int32_t* out) {
  const int64_t D = w.head_dim, n = v4_visible_entries(pos, w.keys.ratio);
  rope.angles(pos, s.cos_sin, s.cos_sin + w.d_rope / 2);
  for (int64_t h = 0; h < w.n_head; ++h) {
    float* qh = q + h * D;
    kernels::rope_adjacent(qh + D - w.d_rope, w.d_rope, s.cos_sin, s.cos_sin + w.d_rope / 2);
    kernels::hadamard_rotate(qh, D);
  }
  for (int64_t e = 0; e < n; ++e) {
    const float* k = keys.entry(e);
    float total = 0.0f;
    for (int64_t h = 0; h < w.n_head; ++h) total += std::max(kernels::dot(q + h * D, k, D), 0.0f) * weights[h];
    s.scores[e] = total;
  }
  kernels::top_k_positions(s.scores, n, w.topk, out, s.order);
}

}  // namespace

V4Selection v4_index(ThreadPool& pool, const V4IndexerWeights& w, const RopeTable& rope, const float* xn,
                     const float* q_lora, std::span<const V4IndexSpan> seqs, StepArena& arena) {
  int64_t n_tok = 0;
  for (const V4IndexSpan& sq : seqs) n_tok = std::max(n_tok, sq.first + sq.n_tok);
  const StepRows rows = step_rows(seqs, n_tok, w.keys.ratio, arena);
  std::vector<V4CompressSpan> spans;
  for (const V4IndexSpan& sq : seqs) spans.push_back({sq.keys, sq.first, sq.n_tok});
  v4_compress(pool, w.keys, rope, xn, spans, arena);

  int64_t* count = arena.take<int64_t>(n_tok);
  int32_t* entries = arena.take<int32_t>(n_tok * w.topk);
  const V4Selection sel{count, entries, w.topk};
  bool any_sparse = false;
  for (int64_t t = 0; t < n_tok; ++t) {
    count[t] = v4_visible_entries(rows.pos[t], w.keys.ratio) > w.topk ? w.topk : -1;  // few entries: all of them
    any_sparse = any_sparse || count[t] > 0;
  }
  if (!any_sparse) return sel;
  const StepArena::Scope scope(arena);  // the selection above outlives the scratch below
  const int64_t HD = w.n_head * w.head_dim, S = std::max<int64_t>(rows.max_entries, 1);
  float* q = arena.take<float>(n_tok * HD);
  float* weights = arena.take<float>(n_tok * w.n_head);
  const LinearJob jobs[] = {{&w.wq_b, q_lora, n_tok, q}, {&w.proj, xn, n_tok, weights}};
  linear_many(pool, jobs, arena);
  // model.py folds softmax_scale · n_heads^-½ into one factor on weights_proj's output.
  const float factor = static_cast<float>(1.0 / std::sqrt(static_cast<double>(w.head_dim) * static_cast<double>(w.n_head)));
  for (int64_t i = 0; i < n_tok * w.n_head; ++i) weights[i] *= factor;
  ThreadSlots<float> floats(arena, pool.size(), w.d_rope + S);
  ThreadSlots<int32_t> order(arena, pool.size(), S);
  pool.parallel_for(n_tok, [&](int64_t t0, int64_t t1) {
    float* f = floats.take();
    const RowScratch s{f, f + w.d_rope, order.take()};
    for (int64_t t = t0; t < t1; ++t)
      if (count[t] > 0)
        select_row(w, rope, *rows.keys[t], rows.pos[t], q + t * HD, weights + t * w.n_head, s, entries + t * w.topk);
  });
  return sel;
}

}  // namespace dseek
