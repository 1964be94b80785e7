// See mla_cache_rows.h.
#include "model/blocks/mla_cache_rows.h"

#include <algorithm>

#include "kernels/cache_rows.h"

namespace dseek {
namespace {

// needed[s] = 1 for every position some query of the sequence reads.
void mark_needed(const AttnSeq& sq, const DsaSelection& sel, bool every_row, uint8_t* needed, int64_t S) {
  if (every_row) return std::fill(needed, needed + S, uint8_t{1});
  std::fill(needed, needed + S, uint8_t{0});
  int64_t causal = 0;  // the longest dense query's key count; its keys cover every shorter one's
  for (int64_t ti = 0; ti < sq.n_tok; ++ti) {
    const int64_t t = sq.first + ti;
    if (sel.dense(t)) causal = sq.pos0 + ti + 1;
    else for (int32_t s : sel.of(t)) needed[s] = 1;
  }
  std::fill(needed, needed + causal, uint8_t{1});
}

}  // namespace

const float* const* mla_latent_rows(ThreadPool& pool, const MlaDims& d, const AttnSeq& sq, int64_t layer,
                                    const DsaSelection& sel, bool every_row, StepArena& arena) {
  const int64_t S = sq.pos0 + sq.n_tok, W = d.kv_lora_rank + d.d_rope;
  const float** rows = arena.take<const float*>(S);
  const KvCache& cache = *sq.cache;
  if (d.cache_type == KvCacheType::kF32) {
    for (int64_t s = 0; s < S; ++s) rows[s] = cache.row(layer, s);
    return rows;
  }
  uint8_t* needed = arena.take<uint8_t>(S);
  mark_needed(sq, sel, every_row, needed, S);
  int32_t* picked = arena.take<int32_t>(S);
  int64_t n = 0;
  for (int64_t s = 0; s < S; ++s)
    if (needed[s]) picked[n++] = static_cast<int32_t>(s);
  float* decoded = arena.take<float>(n * W);
  std::fill(rows, rows + S, nullptr);
  for (int64_t j = 0; j < n; ++j) rows[picked[j]] = decoded + j * W;
  pool.parallel_for(n, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j)
      kernels::decode_cache_row(d.cache_type, cache.row(layer, picked[j]), d.kv_lora_rank, d.d_rope, decoded + j * W);
  }, 64);
  return rows;
}

}  // namespace dseek
