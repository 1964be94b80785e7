// How MLA reads its cache rows ([c_kv | k_rope], stored as --cache-type says,
// kernels/cache_rows.h): attention wants f32 rows, one pointer per position.
#pragma once

#include "model/blocks/mla.h"

namespace dseek {

// Pointers to the f32 rows of positions 0..S-1 (S = sq.pos0 + sq.n_tok) of
// `layer`. An f32 cache hands out its own rows (no copy, the bits of reading
// the cache directly). Narrower types decode, into `arena` (at the caller's
// scope), the rows some query of the step reads: every row when `every_row`
// (naive attention decompresses them all), else each query's causal keys or
// the indexer's selection; the rows nobody reads stay null. A decode step with
// the indexer therefore decodes index_topk rows, not the whole context.
const float* const* mla_latent_rows(ThreadPool& pool, const MlaDims& d, const AttnSeq& sq, int64_t layer,
                                    const DsaSelection& sel, bool every_row, StepArena& arena);

}  // namespace dseek
