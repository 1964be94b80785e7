// See v4_attention.h. Projections run once over all T rows; attention runs per
// sequence over its own cache, each (row, head) pair in a fixed order, so a
// row's result depends only on its own sequence (batch- and thread-invariant).
#include "model/blocks/v4_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/blocks/linear.h"

namespace dseek {
namespace {

// The per-head query normalisation has no weight: x / sqrt(mean(x^2) + eps).
void rms_norm_plain(float* x, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// q [T x H*d] (normalised per head) and the keys kv [T x d] (normalised), both before RoPE.
// q_lat [T x q_lora_rank]: the normalised query latent (the CSA indexer reads it).
void project(ThreadPool& pool, const V4AttnDims& d, const V4AttnWeights& w, const float* xn, int64_t T, float* q,
             float* kv, float* q_lat, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const LinearJob first[] = {{&w.q_a, xn, T, q_lat}, {&w.kv, xn, T, kv}};
  linear_many(pool, first, arena);
  rms_norm_rows(q_lat, w.q_norm, q_lat, T, d.q_lora_rank, d.eps);
  rms_norm_rows(kv, w.kv_norm, kv, T, d.head_dim, d.eps);
  linear(pool, w.q_b, q_lat, T, q, arena);
  for (int64_t r = 0; r < T * d.n_head; ++r) rms_norm_plain(q + r * d.head_dim, d.head_dim, d.eps);
}

// RoPE on the last d_rope channels of every head of q and of the key, at each
// row's position; the keys go to the cache.
void rotate_and_cache(const V4AttnDims& d, const RopeTable& rope, std::span<const CacheSpan> seqs, int64_t layer,
                      float* q, const float* kv, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t half = d.d_rope / 2, tail = d.head_dim - d.d_rope;
  float* cs = arena.take<float>(2 * half);
  for (const CacheSpan& s : seqs)
    for (int64_t i = 0; i < s.n_tok; ++i) {
      const int64_t row = s.first + i;
      rope.angles(s.pos0 + i, cs, cs + half);
      for (int64_t h = 0; h < d.n_head; ++h)
        kernels::rope_adjacent(q + (row * d.n_head + h) * d.head_dim + tail, d.d_rope, cs, cs + half);
      float* k = s.cache->row(layer, s.pos0 + i);
      std::memcpy(k, kv + row * d.head_dim, static_cast<size_t>(d.head_dim) * sizeof(float));
      kernels::rope_adjacent(k + tail, d.d_rope, cs, cs + half);
    }
}

// One (row, head): softmax over the window's and the extra keys with the sink
// in the denominator, o = sum p_j K_j, then RoPE by -position on o's tail.
void attend_one(const V4AttnDims& d, const RopeTable& rope, const float* qh, const float* const* keys, int64_t n_keys,
                float sink, int64_t pos, float* scores, float* o) {
  float mx = sink;
  for (int64_t j = 0; j < n_keys; ++j) mx = std::max(mx, scores[j] = kernels::dot(qh, keys[j], d.head_dim) * d.softmax_scale);
  double sum = std::exp(static_cast<double>(sink - mx));
  for (int64_t j = 0; j < n_keys; ++j) sum += (scores[j] = std::exp(scores[j] - mx));
  const float inv = static_cast<float>(1.0 / sum);
  std::fill(o, o + d.head_dim, 0.0f);
  for (int64_t j = 0; j < n_keys; ++j) kernels::axpy(scores[j] * inv, keys[j], o, d.head_dim);
  const int64_t half = d.d_rope / 2;
  float cs[2 * 512];
  rope.angles(pos, cs, cs + half);
  for (int64_t i = 0; i < half; ++i) cs[half + i] = -cs[half + i];
  kernels::rope_adjacent(o + d.head_dim - d.d_rope, d.d_rope, cs, cs + half);
}

void attend(ThreadPool& pool, const V4AttnDims& d, const V4AttnWeights& w, const RopeTable& rope,
            std::span<const CacheSpan> seqs, int64_t layer, const float* q, float* o, StepArena& arena,
            const V4ExtraKeySource* extra) {
  for (size_t si = 0; si < seqs.size(); ++si) {
    const StepArena::Scope scope(arena);
    const CacheSpan& s = seqs[si];
    int64_t max_extra = 0;
    for (int64_t i = 0; extra && i < s.n_tok; ++i) max_extra = std::max(max_extra, extra->keys(static_cast<int64_t>(si), i).n);
    const int64_t width = d.window + max_extra, H = d.n_head;
    const float** keys = arena.take<const float*>(s.n_tok * width);
    float* scores = arena.take<float>(s.n_tok * H * width);
    int64_t* n_keys = arena.take<int64_t>(s.n_tok);
    for (int64_t i = 0; i < s.n_tok; ++i) {
      const int64_t pos = s.pos0 + i;
      const float** k = keys + i * width;
      int64_t n = 0;
      for (int64_t p = std::max<int64_t>(0, pos - d.window + 1); p <= pos; ++p) k[n++] = s.cache->row(layer, p);
      const V4ExtraKeys ex = extra ? extra->keys(static_cast<int64_t>(si), i) : V4ExtraKeys{};
      for (int64_t j = 0; j < ex.n; ++j) k[n++] = ex.rows[j];
      n_keys[i] = n;
    }
    pool.parallel_for(s.n_tok * H, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t i = r / H, h = r % H, row = s.first + i;
        attend_one(d, rope, q + (row * H + h) * d.head_dim, keys + i * width, n_keys[i], w.sinks[h], s.pos0 + i,
                   scores + r * width, o + (row * H + h) * d.head_dim);
      }
    });
  }
}

// out = W_ob [W_oa[0] o_0 ; ... ; W_oa[G-1] o_{G-1}], o_g = heads g*H/G.. of o.
void grouped_output(ThreadPool& pool, const V4AttnDims& d, const V4AttnWeights& w, const float* o, int64_t T,
                    float* out, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t G = d.o_groups, gw = d.n_head * d.head_dim / G, R = d.o_lora_rank;
  float* og = arena.take<float>(G * T * gw);  // [G][T][gw]: each group's inputs contiguous
  float* ug = arena.take<float>(G * T * R);   // [G][T][R]
  for (int64_t g = 0; g < G; ++g)
    for (int64_t t = 0; t < T; ++t)
      std::memcpy(og + (g * T + t) * gw, o + t * G * gw + g * gw, static_cast<size_t>(gw) * sizeof(float));
  auto* mats = arena.take<kernels::MatrixView>(G);
  auto* jobs = arena.take<LinearJob>(G);
  for (int64_t g = 0; g < G; ++g) {
    mats[g] = kernels::matrix_rows(w.o_a, g * R, R);
    jobs[g] = {&mats[g], og + g * T * gw, T, ug + g * T * R};
  }
  linear_many(pool, std::span<const LinearJob>(jobs, static_cast<size_t>(G)), arena);
  float* u = og;  // reuse: [T][G*R] fits in [G][T][gw] when R <= gw, else take more
  if (R > gw) u = arena.take<float>(T * G * R);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g = 0; g < G; ++g)
      std::memcpy(u + t * G * R + g * R, ug + (g * T + t) * R, static_cast<size_t>(R) * sizeof(float));
  linear(pool, w.o_b, u, T, out, arena);
}

}  // namespace

void v4_attention_forward(ThreadPool& pool, const V4AttnDims& d, const V4AttnWeights& w, const RopeTable& rope,
                          const float* xn, std::span<const CacheSpan> seqs, int64_t layer, float* out,
                          StepArena& arena, V4ExtraKeySource* extra) {
  const StepArena::Scope scope(arena);
  int64_t T = 0;
  for (const CacheSpan& s : seqs) T = std::max(T, s.first + s.n_tok);
  float* q = arena.take<float>(T * d.n_head * d.head_dim);
  float* kv = arena.take<float>(T * d.head_dim);
  float* o = arena.take<float>(T * d.n_head * d.head_dim);
  float* q_lat = arena.take<float>(T * d.q_lora_rank);
  project(pool, d, w, xn, T, q, kv, q_lat, arena);
  if (extra) extra->prepare(q_lat, arena);
  rotate_and_cache(d, rope, seqs, layer, q, kv, arena);
  attend(pool, d, w, rope, seqs, layer, q, o, arena, extra);
  grouped_output(pool, d, w, o, T, out, arena);
}

}  // namespace dseek
