// The two MLA attention forms over one sequence's latent cache (see mla.h).
#include <algorithm>

#include "model/blocks/mla.h"
#include "model/blocks/mla_cache_rows.h"

namespace dseek {
namespace {

// The cache rows of the selected positions; returns how many.
int64_t gather_rows(std::span<const int32_t> picked, const float* const* key_rows, const float* const* rope_rows,
                    const float** keys, const float** ropes) {
  for (size_t j = 0; j < picked.size(); ++j) keys[j] = key_rows[picked[j]], ropes[j] = rope_rows[picked[j]];
  return static_cast<int64_t>(picked.size());
}

}  // namespace

// Naive: decompress every cached position's per-head K_nope [S][H][Dn] and
// V [S][H][Dv], then one (token, head) at a time: scores, softmax, weighted sum.
void mla_attend_naive(ThreadPool& pool, const MlaDims& d, const MlaUpProjection& up, const AttnSeq& sq, int64_t layer,
                      const float* q, const DsaSelection& sel, float* o, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t H = d.n_head, Ckv = d.kv_lora_rank, Dn = d.d_nope, Dr = d.d_rope, Dv = d.d_v, dq = Dn + Dr;
  const int64_t S = sq.pos0 + sq.n_tok;
  const float* const* rows = mla_latent_rows(pool, d, sq, layer, sel, true, arena);
  float* kn = arena.take<float>(S * H * Dn);
  float* vv = arena.take<float>(S * H * Dv);
  pool.parallel_for(S, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s)
      for (int64_t h = 0; h < H; ++h) {
        up.key_of_latent(up.uk.head(h), rows[s], kn + (s * H + h) * Dn);
        kernels::matvec(up.uv.head(h), rows[s], vv + (s * H + h) * Dv, 0, Dv);
      }
  });
  ThreadSlots<float> probs(arena, pool.size(), S);
  pool.parallel_for(sq.n_tok * H, [&](int64_t i0, int64_t i1) {
    float* p = probs.take();
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t ti = i / H, h = i % H, t = sq.first + ti;
      const bool dense = sel.dense(t);
      const int64_t n_keys = dense ? sq.pos0 + ti + 1 : sel.count[t];  // causal, or the indexer's keys
      const int32_t* picked = dense ? nullptr : sel.of(t).data();
      const float* qh = q + (t * H + h) * dq;
      for (int64_t j = 0; j < n_keys; ++j) {
        const int64_t s = dense ? j : picked[j];
        const float nope = kernels::dot(qh, kn + (s * H + h) * Dn, Dn);
        p[j] = (nope + kernels::dot(qh + Dn, rows[s] + Ckv, Dr)) * d.softmax_scale;
      }
      kernels::softmax(p, n_keys);
      float* oh = o + (t * H + h) * Dv;
      std::fill(oh, oh + Dv, 0.0f);
      for (int64_t j = 0; j < n_keys; ++j) kernels::axpy(p[j], vv + ((dense ? j : picked[j]) * H + h) * Dv, oh, Dv);
    }
  });
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
// With an indexer selection a row's rows are gathered into per-thread pointer
// lists, so the same kernels run over the selected keys in position order.
void mla_attend_absorbed(ThreadPool& pool, const MlaDims& d, const AttnSeq& sq, int64_t layer, const float* q,
                         const float* q_abs, const DsaSelection& sel, float* lat, StepArena& arena) {
  constexpr int64_t kHeadGroup = 8;
  const StepArena::Scope scope(arena);
  const int64_t H = d.n_head, Ckv = d.kv_lora_rank, Dn = d.d_nope, Dr = d.d_rope, dq = Dn + Dr;
  const int64_t S = sq.pos0 + sq.n_tok, G = std::min(H, kHeadGroup), n_groups = (H + G - 1) / G;
  const float* const* key_rows = mla_latent_rows(pool, d, sq, layer, sel, false, arena);
  const float** rope_rows = arena.take<const float*>(S);
  for (int64_t s = 0; s < S; ++s) rope_rows[s] = key_rows[s] ? key_rows[s] + Ckv : nullptr;
  ThreadSlots<float> scores(arena, pool.size(), 3 * S * G);
  ThreadSlots<const float*> queries(arena, pool.size(), 2 * G + 2 * sel.topk);
  pool.parallel_for(sq.n_tok * n_groups, [&](int64_t i0, int64_t i1) {
    float* const nope = scores.take();
    float *const rope = nope + S * G, *const prob = rope + S * G;
    const float** const qa = queries.take();
    const float** const qr = qa + G;
    const float** const picked_keys = qr + G;
    const float** const picked_rope = picked_keys + sel.topk;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t k = i / n_groups, h0 = (i % n_groups) * G, gh = std::min(G, H - h0);
      const int64_t ti = k % 2 == 0 ? k / 2 : sq.n_tok - 1 - k / 2, t = sq.first + ti;
      int64_t n_keys = sq.pos0 + ti + 1;
      const float* const* keys = key_rows;
      const float* const* ropes = rope_rows;
      if (!sel.dense(t)) {
        n_keys = gather_rows(sel.of(t), key_rows, rope_rows, picked_keys, picked_rope);
        keys = picked_keys, ropes = picked_rope;
      }
      for (int64_t j = 0; j < gh; ++j) {
        qr[j] = q + (t * H + h0 + j) * dq + Dn;
        qa[j] = q_abs + (t * H + h0 + j) * Ckv;
      }
      kernels::dot_many(keys, n_keys, qa, gh, Ckv, nope);  // [key][head]
      kernels::dot_many(ropes, n_keys, qr, gh, Dr, rope);
      for (int64_t j = 0; j < gh; ++j) {
        float* pj = prob + j * n_keys;
        for (int64_t s = 0; s < n_keys; ++s) pj[s] = (nope[s * gh + j] + rope[s * gh + j]) * d.softmax_scale;
        kernels::softmax(pj, n_keys);
        for (int64_t s = 0; s < n_keys; ++s) nope[s * gh + j] = pj[s];  // back to [key][head]
      }
      kernels::weighted_sum_rows(nope, n_keys, gh, keys, Ckv, lat + (t * H + h0) * Ckv);
    }
  });
}

}  // namespace dseek
