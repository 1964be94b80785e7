// See mla.h: the up-projection layouts, project, output, and the layer.
#include "model/blocks/mla.h"

#include <algorithm>

#include "model/blocks/linear.h"

namespace dseek {
namespace {

using kernels::MatrixView;

// y[m.rows] = M x
void product(const MatrixView& m, const float* x, float* y) { kernels::matvec(m, x, y, 0, m.rows); }

// y[m.cols] = M^T x
void product_t(const MatrixView& m, const float* x, float* y) {
  std::fill(y, y + m.cols, 0.0f);
  kernels::matvec_t_accumulate(m, x, y, 0, m.rows);
}

// Rows [r0, r1) of the per-head products Y[t][h] = M_h X[t][h] for all tokens
// at once: each head's weight rows are read once for every token.
// kernels::matmul gives each (t, row) the bits of matvec on that token alone.
void per_head_matmul(const PerHeadRows& m, int64_t n_head, const float* x, int64_t x_head_stride, int64_t n_tok,
                     float* y, int64_t y_head_stride, int64_t r0, int64_t r1) {
  const int64_t per = m.rows;
  for (int64_t h = r0 / per; h < n_head && h * per < r1; ++h) {
    const int64_t b = std::max(r0, h * per) - h * per, e = std::min(r1, (h + 1) * per) - h * per;
    kernels::matmul(m.head(h), x + h * x_head_stride, n_head * x_head_stride, n_tok, y + h * y_head_stride,
                    n_head * y_head_stride, b, e);
  }
}

// Split layout: W_UK^T is stored, so absorbing is a plain product — one matmul per head over all tokens.
void absorb_split(ThreadPool& pool, const MlaUpProjection& up, int64_t n_head, const float* q, int64_t q_head_stride,
                  int64_t n_tok, float* q_abs) {
  const int64_t ckv = up.uk.rows;
  pool.parallel_for(n_head * ckv, [&](int64_t r0, int64_t r1) {
    per_head_matmul(up.uk, n_head, q, q_head_stride, n_tok, q_abs, ckv, r0, r1);
  }, 16);
}

// Joint layout: W_UK is stored, so absorbing is a transposed product per token and head.
void absorb_joint(ThreadPool& pool, const MlaUpProjection& up, int64_t n_head, const float* q, int64_t q_head_stride,
                  int64_t n_tok, float* q_abs) {
  const int64_t ckv = up.uk.all.cols;
  pool.parallel_for(n_tok * n_head, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) product_t(up.uk.head(i % n_head), q + i * q_head_stride, q_abs + i * ckv);
  });
}

// Queries [T x H*(Dn+Dr)] and each token's cache row (latent normalised, rope
// key rotated); cq [T x Cq] gets the normalised compressed queries (q_lora_rank > 0).
void project(ThreadPool& pool, const MlaDims& d, const MlaWeights& w, const RopeTable& rope, const float* xn,
             int64_t n_tok, std::span<const AttnSeq> seqs, int64_t layer, float* q, float* cq, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t width = d.kv_lora_rank + d.d_rope, dq = d.d_nope + d.d_rope;
  float* kv = arena.take<float>(n_tok * width);
  if (d.q_lora_rank > 0) {
    const LinearJob jobs[] = {{&w.q_a, xn, n_tok, cq}, {&w.kv_a, xn, n_tok, kv}};
    linear_many(pool, jobs, arena);
    rms_norm_rows(cq, w.q_a_norm, cq, n_tok, d.q_lora_rank, d.eps);
    linear(pool, w.q_b, cq, n_tok, q, arena);
  } else {
    const LinearJob jobs[] = {{&w.q, xn, n_tok, q}, {&w.kv_a, xn, n_tok, kv}};
    linear_many(pool, jobs, arena);
  }
  float* cs = arena.take<float>(d.d_rope);
  float* staged = arena.take<float>(width);
  for (const AttnSeq& sq : seqs)
    for (int64_t i = 0; i < sq.n_tok; ++i) {
      const int64_t t = sq.first + i, pos = sq.pos0 + i;
      // A narrower cache type computes the row in f32 scratch, then stores it encoded.
      float* const cached = sq.cache->row(layer, pos);
      float* const row = d.cache_type == KvCacheType::kF32 ? cached : staged;
      const float* src = kv + t * width;
      kernels::rms_norm(src, w.kv_a_norm, row, d.kv_lora_rank, d.eps);  // the rope part skips the norm
      std::copy(src + d.kv_lora_rank, src + width, row + d.kv_lora_rank);
      rope.angles(pos, cs, cs + d.d_rope / 2);
      kernels::rope_adjacent(row + d.kv_lora_rank, d.d_rope, cs, cs + d.d_rope / 2);
      for (int64_t h = 0; h < d.n_head; ++h)
        kernels::rope_adjacent(q + t * d.n_head * dq + h * dq + d.d_nope, d.d_rope, cs, cs + d.d_rope / 2);
      if (row != cached) kernels::encode_cache_row(d.cache_type, row, d.kv_lora_rank, d.d_rope, cached);
    }
}

// Absorbed: q_abs = W_UK[h]^T q_nope for every token and head up front, the
// attended latents of all sequences collected, then o[t][h] = W_UV[h] lat[t][h]
// as one matmul per head over all tokens.
void attend_absorbed(ThreadPool& pool, const MlaDims& d, const MlaUpProjection& up, std::span<const AttnSeq> seqs,
                     int64_t layer, int64_t n_tok, const float* q, const DsaSelection& sel, float* o, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t H = d.n_head, Ckv = d.kv_lora_rank, Dv = d.d_v;
  float* q_abs = arena.take<float>(n_tok * H * Ckv);
  float* lat = arena.take<float>(n_tok * H * Ckv);
  up.absorb_queries(pool, up, H, q, d.d_nope + d.d_rope, n_tok, q_abs);
  for (const AttnSeq& sq : seqs) mla_attend_absorbed(pool, d, sq, layer, q, q_abs, sel, lat, arena);
  PerHeadRows uv = up.uv;
  pool.parallel_for(H * Dv, [&](int64_t r0, int64_t r1) { per_head_matmul(uv, H, lat, Ckv, n_tok, o, Dv, r0, r1); }, 16);
}

}  // namespace

MlaUpProjection mla_split_up_projection(const MatrixView& k_b, const MatrixView& v_b, const MlaDims& d) {
  MlaUpProjection up;
  up.uk = {k_b, d.kv_lora_rank, 0, d.kv_lora_rank};
  up.uv = {v_b, d.d_v, 0, d.d_v};
  up.key_of_latent = product_t;
  up.absorb_queries = absorb_split;
  return up;
}

MlaUpProjection mla_joint_up_projection(const MatrixView& kv_b, const MlaDims& d) {
  MlaUpProjection up;
  up.uk = {kv_b, d.d_nope + d.d_v, 0, d.d_nope};
  up.uv = {kv_b, d.d_nope + d.d_v, d.d_nope, d.d_v};
  up.key_of_latent = product;
  up.absorb_queries = absorb_joint;
  return up;
}

void mla_forward(ThreadPool& pool, const MlaDims& d, const MlaWeights& w, const RopeTable& rope, const float* xn,
                 std::span<const AttnSeq> seqs, int64_t layer, MlaMode mode, float* out, StepArena& arena) {
  const StepArena::Scope scope(arena);
  int64_t n_tok = 0;
  for (const AttnSeq& sq : seqs) n_tok += sq.n_tok;
  // Every element of q and o is written before it is read: left uninitialised.
  float* q = arena.take<float>(n_tok * d.n_head * (d.d_nope + d.d_rope));
  float* o = arena.take<float>(n_tok * d.n_head * d.d_v);
  float* cq = d.q_lora_rank > 0 ? arena.take<float>(n_tok * d.q_lora_rank) : nullptr;
  project(pool, d, w, rope, xn, n_tok, seqs, layer, q, cq, arena);
  // V3.2: the indexer writes its keys beside the latents and picks each row's keys (MLA's query latent feeds it).
  const DsaSelection sel = w.dsa.enabled() ? dsa_index(pool, w.dsa, rope, xn, cq, seqs, layer, arena) : DsaSelection{};
  if (mode == MlaMode::kAbsorbed) {
    attend_absorbed(pool, d, w.up, seqs, layer, n_tok, q, sel, o, arena);
  } else {
    for (const AttnSeq& sq : seqs) mla_attend_naive(pool, d, w.up, sq, layer, q, sel, o, arena);
  }
  linear(pool, w.o, o, n_tok, out, arena);
}

}  // namespace dseek
