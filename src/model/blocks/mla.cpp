// See mla.h.
#include "model/blocks/mla.h"

#include <algorithm>
#include <cstring>

#include "model/blocks/linear.h"

namespace dseek {
namespace {

using kernels::MatrixView;
using kernels::matrix_rows;

// k_nope = W_UK[h] c   (Dn values)
void uk_decompress(const MlaDims& d, const MlaWeights& w, int64_t h, const float* c, float* k_nope) {
  if (w.split) {
    std::fill(k_nope, k_nope + d.d_nope, 0.0f);
    kernels::matvec_t_accumulate(matrix_rows(w.k_b, h * d.kv_lora_rank, d.kv_lora_rank), c, k_nope, 0, d.kv_lora_rank);
  } else {
    kernels::matvec(matrix_rows(w.kv_b, h * (d.d_nope + d.d_v), d.d_nope), c, k_nope, 0, d.d_nope);
  }
}

// q_abs = W_UK[h]^T q_nope   (Ckv values)
void uk_absorb(const MlaDims& d, const MlaWeights& w, int64_t h, const float* q_nope, float* q_abs) {
  if (w.split) {
    kernels::matvec(matrix_rows(w.k_b, h * d.kv_lora_rank, d.kv_lora_rank), q_nope, q_abs, 0, d.kv_lora_rank);
  } else {
    std::fill(q_abs, q_abs + d.kv_lora_rank, 0.0f);
    kernels::matvec_t_accumulate(matrix_rows(w.kv_b, h * (d.d_nope + d.d_v), d.d_nope), q_nope, q_abs, 0, d.d_nope);
  }
}

// v = W_UV[h] c   (Dv values)
void uv_apply(const MlaDims& d, const MlaWeights& w, int64_t h, const float* c, float* v) {
  const MatrixView m = w.split ? matrix_rows(w.v_b, h * d.d_v, d.d_v)
                               : matrix_rows(w.kv_b, h * (d.d_nope + d.d_v) + d.d_nope, d.d_v);
  kernels::matvec(m, c, v, 0, d.d_v);
}

// Queries [T x H*(Dn+Dr)] and each token's cache row (latent normalised, rope key rotated).
void project(ThreadPool& pool, const MlaDims& d, const MlaWeights& w, const RopeTable& rope, const float* xn,
             int64_t n_tok, std::span<const AttnSeq> seqs, int64_t layer, float* q, std::vector<float>& tmp) {
  const int64_t width = d.kv_lora_rank + d.d_rope, dq = d.d_nope + d.d_rope;
  std::vector<float> kv(static_cast<size_t>(n_tok * width));
  if (d.q_lora_rank > 0) {
    tmp.resize(static_cast<size_t>(n_tok * d.q_lora_rank));
    const LinearJob jobs[] = {{&w.q_a, xn, n_tok, tmp.data()}, {&w.kv_a, xn, n_tok, kv.data()}};
    linear_many(pool, jobs);
    rms_norm_rows(tmp.data(), w.q_a_norm, tmp.data(), n_tok, d.q_lora_rank, d.eps);
    linear(pool, w.q_b, tmp.data(), n_tok, q);
  } else {
    const LinearJob jobs[] = {{&w.q, xn, n_tok, q}, {&w.kv_a, xn, n_tok, kv.data()}};
    linear_many(pool, jobs);
  }
  std::vector<float> cs(static_cast<size_t>(d.d_rope));
  for (const AttnSeq& sq : seqs)
    for (int64_t i = 0; i < sq.n_tok; ++i) {
      const int64_t t = sq.first + i, pos = sq.pos0 + i;
      float* row = sq.cache->row(layer, pos);
      const float* src = kv.data() + t * width;
      kernels::rms_norm(src, w.kv_a_norm, row, d.kv_lora_rank, d.eps);  // the rope part skips the norm
      std::copy(src + d.kv_lora_rank, src + width, row + d.kv_lora_rank);
      rope.angles(pos, cs.data(), cs.data() + d.d_rope / 2);
      kernels::rope_adjacent(row + d.kv_lora_rank, d.d_rope, cs.data(), cs.data() + d.d_rope / 2);
      for (int64_t h = 0; h < d.n_head; ++h)
        kernels::rope_adjacent(q + t * d.n_head * dq + h * dq + d.d_nope, d.d_rope, cs.data(), cs.data() + d.d_rope / 2);
    }
}

// Rows [r0, r1) of the per-head products Y[t][h] = M_h X[t][h] for all tokens
// at once, M_h = rows [h*rows_per_head, ...) of m: each head's weight rows are
// read once for every token. kernels::matmul gives each (t, row) the bits of
// matvec on that token alone, so this equals the per-token loop exactly.
void per_head_matmul(const MatrixView& m, int64_t rows_per_head, int64_t n_head, const float* x, int64_t x_head_stride,
                     int64_t n_tok, float* y, int64_t y_head_stride, int64_t r0, int64_t r1) {
  for (int64_t h = r0 / rows_per_head; h < n_head && h * rows_per_head < r1; ++h) {
    const int64_t b = std::max(r0, h * rows_per_head) - h * rows_per_head;
    const int64_t e = std::min(r1, (h + 1) * rows_per_head) - h * rows_per_head;
    kernels::matmul(matrix_rows(m, h * rows_per_head, rows_per_head), x + h * x_head_stride, n_head * x_head_stride,
                    n_tok, y + h * y_head_stride, n_head * y_head_stride, b, e);
  }
}

// Absorbed attention of one sequence over the latent cache. Every head reads
// the same cached rows [c_kv | k_rope], so heads go in groups that share each
// row read: scores as one dot_many per group (pairwise the bits of dot()),
// softmax per head, and the weighted sum of latents as one weighted_sum_rows
// (the bits of one axpy per key). Per (token, head) the arithmetic is that of
// a single-head loop, so batch size, grouping and thread count change no bits.
// Jobs take tokens alternately from the front and the back of the sequence:
// causal work grows with the position, and contiguous ranges of this order
// give every thread a similar share.
void absorbed_attention(ThreadPool& pool, const MlaDims& d, const MlaWeights& w, KvCache& cache, int64_t layer,
                        const AttnSeq& sq, const float* q, const float* q_abs_all, float* lat_all) {
  constexpr int64_t kHeadGroup = 8;
  const int64_t H = d.n_head, Ckv = d.kv_lora_rank, Dn = d.d_nope, Dr = d.d_rope, dq = Dn + Dr;
  const int64_t S = sq.pos0 + sq.n_tok, G = std::min(H, kHeadGroup), n_groups = (H + G - 1) / G;
  std::vector<const float*> key_rows(static_cast<size_t>(S)), rope_rows(static_cast<size_t>(S));
  for (int64_t s = 0; s < S; ++s) {
    key_rows[static_cast<size_t>(s)] = cache.row(layer, s);
    rope_rows[static_cast<size_t>(s)] = key_rows[static_cast<size_t>(s)] + Ckv;
  }
  pool.parallel_for(sq.n_tok * n_groups, [&](int64_t i0, int64_t i1) {
    std::vector<float> nope(static_cast<size_t>(S * G)), rope(nope.size()), prob(nope.size());
    std::vector<float> q_abs(q_abs_all ? 0 : static_cast<size_t>(G * Ckv));
    std::vector<const float*> qa(static_cast<size_t>(G)), qr(static_cast<size_t>(G));
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t k = i / n_groups, h0 = (i % n_groups) * G, gh = std::min(G, H - h0);
      const int64_t ti = k % 2 == 0 ? k / 2 : sq.n_tok - 1 - k / 2, t = sq.first + ti, n_keys = sq.pos0 + ti + 1;
      for (int64_t j = 0; j < gh; ++j) {
        const float* qh = q + (t * H + h0 + j) * dq;
        qr[static_cast<size_t>(j)] = qh + Dn;
        if (q_abs_all) {
          qa[static_cast<size_t>(j)] = q_abs_all + (t * H + h0 + j) * Ckv;
        } else {
          uk_absorb(d, w, h0 + j, qh, q_abs.data() + j * Ckv);
          qa[static_cast<size_t>(j)] = q_abs.data() + j * Ckv;
        }
      }
      kernels::dot_many(key_rows.data(), n_keys, qa.data(), gh, Ckv, nope.data());  // [key][head]
      kernels::dot_many(rope_rows.data(), n_keys, qr.data(), gh, Dr, rope.data());
      for (int64_t j = 0; j < gh; ++j) {
        float* pj = prob.data() + j * n_keys;
        for (int64_t s = 0; s < n_keys; ++s)
          pj[s] = (nope[static_cast<size_t>(s * gh + j)] + rope[static_cast<size_t>(s * gh + j)]) * d.softmax_scale;
        kernels::softmax(pj, n_keys);
        for (int64_t s = 0; s < n_keys; ++s) nope[static_cast<size_t>(s * gh + j)] = pj[s];  // back to [key][head]
      }
      kernels::weighted_sum_rows(nope.data(), n_keys, gh, key_rows.data(), Ckv, lat_all + (t * H + h0) * Ckv);
    }
  });
}

}  // namespace

void mla_forward(ThreadPool& pool, const MlaDims& d, const MlaWeights& w, const RopeTable& rope, const float* xn,
                 std::span<const AttnSeq> seqs, int64_t layer, MlaMode mode, float* out, std::vector<float>& scratch) {
  const int64_t H = d.n_head, Ckv = d.kv_lora_rank, Dn = d.d_nope, Dr = d.d_rope, Dv = d.d_v, dq = Dn + Dr;
  int64_t n_tok = 0;
  for (const AttnSeq& sq : seqs) n_tok += sq.n_tok;
  // Per-layer activations, every element written before it is read: left
  // uninitialised (zero-filling them cost ~1 GB of stores per 512-token prefill).
  using Scratch = kernels::CacheLineScratch<float>;
  Scratch q(static_cast<size_t>(n_tok * H * dq)), o(static_cast<size_t>(n_tok * H * Dv));
  project(pool, d, w, rope, xn, n_tok, seqs, layer, q.data(), scratch);
  const bool absorbed = mode == MlaMode::kAbsorbed;
  // Absorbed: q_abs = W_UK[h]^T q_nope for every token and head up front (split
  // k_b layout; the joint layout absorbs per token below), and the attended
  // latents collected so W_UV runs once per head over all tokens at the end.
  const size_t n_lat = absorbed ? static_cast<size_t>(n_tok * H * Ckv) : 0;
  Scratch lat_all(n_lat), q_abs_all(w.split ? n_lat : 0);
  if (absorbed) {
    if (w.split) {
      pool.parallel_for(H * Ckv, [&](int64_t r0, int64_t r1) {
        per_head_matmul(w.k_b, Ckv, H, q.data(), dq, n_tok, q_abs_all.data(), Ckv, r0, r1);
      }, 16);
    }
  }

  std::vector<float> kn, vv;  // naive: one sequence's decompressed K_nope [S][H][Dn] and V [S][H][Dv]
  for (const AttnSeq& sq : seqs) {
    KvCache& cache = *sq.cache;
    const int64_t S = sq.pos0 + sq.n_tok;
    if (absorbed) {
      absorbed_attention(pool, d, w, cache, layer, sq, q.data(), w.split ? q_abs_all.data() : nullptr, lat_all.data());
      continue;
    }
    {
      kn.resize(static_cast<size_t>(S * H * Dn));
      vv.resize(static_cast<size_t>(S * H * Dv));
      pool.parallel_for(S, [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s)
          for (int64_t h = 0; h < H; ++h) {
            uk_decompress(d, w, h, cache.row(layer, s), kn.data() + (s * H + h) * Dn);
            uv_apply(d, w, h, cache.row(layer, s), vv.data() + (s * H + h) * Dv);
          }
      });
    }
    pool.parallel_for(sq.n_tok * H, [&](int64_t i0, int64_t i1) {
      std::vector<float> p(static_cast<size_t>(S));
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t ti = i / H, h = i % H, t = sq.first + ti, n_keys = sq.pos0 + ti + 1;  // causal
        const float* qh = q.data() + (t * H + h) * dq;
        for (int64_t s = 0; s < n_keys; ++s) {
          const float nope = kernels::dot(qh, kn.data() + (s * H + h) * Dn, Dn);
          p[static_cast<size_t>(s)] = (nope + kernels::dot(qh + Dn, cache.row(layer, s) + Ckv, Dr)) * d.softmax_scale;
        }
        kernels::softmax(p.data(), n_keys);
        float* oh = o.data() + (t * H + h) * Dv;
        std::fill(oh, oh + Dv, 0.0f);
        for (int64_t s = 0; s < n_keys; ++s) kernels::axpy(p[static_cast<size_t>(s)], vv.data() + (s * H + h) * Dv, oh, Dv);
      }
    });
  }
  if (absorbed) {  // o[t][h] = W_UV[h] lat[t][h]
    const MatrixView uv = w.split ? w.v_b : w.kv_b;
    const int64_t per = w.split ? Dv : Dn + Dv, skip = w.split ? 0 : Dn;
    pool.parallel_for(H * Dv, [&](int64_t r0, int64_t r1) {
      for (int64_t h = r0 / Dv; h < H && h * Dv < r1; ++h) {
        const int64_t b = std::max(r0, h * Dv) - h * Dv, e = std::min(r1, (h + 1) * Dv) - h * Dv;
        kernels::matmul(matrix_rows(uv, h * per + skip, Dv), lat_all.data() + h * Ckv, H * Ckv, n_tok,
                        o.data() + h * Dv, H * Dv, b, e);
      }
    }, 16);
  }
  linear(pool, w.o, o.data(), n_tok, out);
}

}  // namespace dseek
