// See dsa_indexer.h: key records into the cache, queries, scores, top-k.
#include "model/blocks/dsa_indexer.h"

#include <algorithm>
#include <cmath>

#include "model/blocks/linear.h"

namespace dseek {
namespace {

// The indexer's k_norm is a LayerNorm (model.py class LayerNorm: eps 1e-6, in f32), not an RMSNorm.
constexpr double kLayerNormEps = 1e-6;

void layer_norm(float* x, const float* w, const float* b, int64_t n) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double inv = 1.0 / std::sqrt(var / static_cast<double>(n) + kLayerNormEps);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>((x[i] - mean) * inv) * w[i] + b[i];
}

// RoPE on the leading d_rope dims (half-split pairs), the Hadamard rotation,
// then E4M3 with one ue8m0 scale: what model.py does to each indexer q head and k.
float rotate_and_quantize(const DsaWeights& w, const float* cos_sin, float* v, uint8_t* q8) {
  kernels::rope_half_split(v, w.d_rope, cos_sin, cos_sin + w.d_rope / 2);
  kernels::hadamard_rotate(v, w.head_dim);
  return kernels::quantize_fp8_block_ue8m0(v, w.head_dim, q8);
}

void write_keys(ThreadPool& pool, const DsaWeights& w, const RopeTable& rope, const float* xn, int64_t n_tok,
                std::span<const CacheSpan> seqs, int64_t layer, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t D = w.head_dim;
  float* k = arena.take<float>(n_tok * D);
  float* cs = arena.take<float>(w.d_rope);
  linear(pool, w.wk, xn, n_tok, k, arena);
  for (const CacheSpan& sq : seqs)
    for (int64_t i = 0; i < sq.n_tok; ++i) {
      const int64_t t = sq.first + i, pos = sq.pos0 + i;
      float* kt = k + t * D;
      layer_norm(kt, w.k_norm, w.k_norm_bias, D);
      rope.angles(pos, cs, cs + w.d_rope / 2);
      float* record = sq.cache->row(layer, pos) + w.cache_offset;
      record[0] = rotate_and_quantize(w, cs, kt, reinterpret_cast<uint8_t*>(record + 1));
    }
}

// Where each row of the step sits: its sequence and position.
struct StepRows {
  const CacheSpan** seq;
  int64_t* pos;
  int64_t max_keys = 0;
};

StepRows step_rows(std::span<const CacheSpan> seqs, int64_t n_tok, StepArena& arena) {
  StepRows r{arena.take<const CacheSpan*>(n_tok), arena.take<int64_t>(n_tok)};
  for (const CacheSpan& sq : seqs) {
    for (int64_t i = 0; i < sq.n_tok; ++i) r.seq[sq.first + i] = &sq, r.pos[sq.first + i] = sq.pos0 + i;
    r.max_keys = std::max(r.max_keys, sq.pos0 + sq.n_tok);
  }
  return r;
}

// Scratch per thread for one row's selection.
struct RowScratch {
  float* cos_sin;
  float* scores;
  int32_t* order;
  const float** records;
  uint8_t* q8;
};

// Row t's queries (rotated, quantised, decoded in place in q) and head weights,
// its scores against all its causal keys, and their top-k.
void select_row(const DsaWeights& w, const RopeTable& rope, const CacheSpan& sq, int64_t layer, int64_t pos, float* q,
                float* weights, const RowScratch& s, int32_t* keys) {
  const int64_t D = w.head_dim, n_keys = pos + 1;
  const float head_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(w.n_head)));
  const float softmax_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  rope.angles(pos, s.cos_sin, s.cos_sin + w.d_rope / 2);
  for (int64_t h = 0; h < w.n_head; ++h) {
    float* qh = q + h * D;
    const float q_scale = rotate_and_quantize(w, s.cos_sin, qh, s.q8);
    for (int64_t d = 0; d < D; ++d) qh[d] = kernels::fp8_e4m3_to_float(s.q8[d]);
    weights[h] = weights[h] * head_scale * q_scale * softmax_scale;  // model.py's order
  }
  for (int64_t p = 0; p < n_keys; ++p) s.records[p] = sq.cache->row(layer, p) + w.cache_offset;
  kernels::dsa_index_scores(q, weights, w.n_head, D, s.records, n_keys, s.scores);
  kernels::top_k_positions(s.scores, n_keys, w.topk, keys, s.order);
}

// Row boundaries that give each of `parts` ranges about the same work: a
// sparse row costs its key count (scores over every causal key) plus a fixed
// share for its queries (64 heads rotated and quantised at V3.2's shapes, about
// 256 keys' worth); a dense row costs nothing. An even split by rows would give
// a prefill's last thread most of the keys. Fixed by the step alone, so which
// thread scores which row never depends on timing.
int64_t* balanced_bounds(const int64_t* count, const StepRows& rows, int64_t n_tok, int parts, StepArena& arena) {
  constexpr int64_t kRowOverhead = 256;
  int64_t* bounds = arena.take<int64_t>(parts + 1);
  int64_t total = 0;
  for (int64_t t = 0; t < n_tok; ++t) total += count[t] > 0 ? rows.pos[t] + 1 + kRowOverhead : 0;
  int64_t done = 0, t = 0;
  bounds[0] = 0;
  for (int p = 1; p <= parts; ++p) {
    const int64_t target = total * p / parts;
    while (t < n_tok && done < target) done += count[t] > 0 ? rows.pos[t] + 1 + kRowOverhead : 0, ++t;
    bounds[p] = p == parts ? n_tok : t;
  }
  return bounds;
}

}  // namespace

DsaSelection dsa_index(ThreadPool& pool, const DsaWeights& w, const RopeTable& rope, const float* xn,
                       const float* q_lora, std::span<const CacheSpan> seqs, int64_t layer, StepArena& arena) {
  int64_t n_tok = 0;
  for (const CacheSpan& sq : seqs) n_tok += sq.n_tok;
  write_keys(pool, w, rope, xn, n_tok, seqs, layer, arena);
  int64_t* count = arena.take<int64_t>(n_tok);
  int32_t* keys = arena.take<int32_t>(n_tok * w.topk);
  const DsaSelection sel{count, keys, w.topk};
  const StepRows rows = step_rows(seqs, n_tok, arena);
  bool any_sparse = false;
  for (int64_t t = 0; t < n_tok; ++t) {
    count[t] = rows.pos[t] + 1 > w.topk ? w.topk : -1;  // at most topk keys: dense, nothing to score
    any_sparse = any_sparse || count[t] > 0;
  }
  if (!any_sparse) return sel;
  const StepArena::Scope scope(arena);  // the selection above outlives the scratch below
  const int64_t HD = w.n_head * w.head_dim, S = rows.max_keys;
  float* q = arena.take<float>(n_tok * HD);
  float* weights = arena.take<float>(n_tok * w.n_head);
  const LinearJob jobs[] = {{&w.wq_b, q_lora, n_tok, q}, {&w.proj, xn, n_tok, weights}};
  linear_many(pool, jobs, arena);
  ThreadSlots<float> floats(arena, pool.size(), w.d_rope + S);
  ThreadSlots<int32_t> order(arena, pool.size(), S);
  ThreadSlots<const float*> records(arena, pool.size(), S);
  ThreadSlots<uint8_t> q8(arena, pool.size(), w.head_dim);
  const int parts = pool.size();
  const int64_t* bounds = balanced_bounds(count, rows, n_tok, parts, arena);
  pool.parallel_for(parts, [&](int64_t p0, int64_t p1) {
    float* f = floats.take();
    const RowScratch s{f, f + w.d_rope, order.take(), records.take(), q8.take()};
    for (int64_t t = bounds[p0]; t < bounds[p1]; ++t)
      if (count[t] > 0)
        select_row(w, rope, *rows.seq[t], layer, rows.pos[t], q + t * HD, weights + t * w.n_head, s, keys + t * w.topk);
  });
  return sel;
}

}  // namespace dseek
