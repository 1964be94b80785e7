// The attention cache's memory, checked before it is allocated: a model file
// may declare a context of 2^31 tokens, and a cache for all of it would be
// terabytes. Callers size the cache to what a request needs; this check turns
// a size the machine cannot hold into a clear error naming the flag to lower,
// instead of std::bad_alloc or the OOM killer.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "model/model.h"

namespace dseek {

// Bytes one cached position takes in `model`'s cache (all layers).
int64_t cache_bytes_per_position(const Model& model);

// The machine's physical memory in bytes (0 if unknown).
uint64_t physical_memory_bytes();

// An error when caches for `n_seqs` sequences of `n_ctx` positions each
// would not fit in physical memory; `flag` names the option that sets n_ctx
// (e.g. "--ctx-size").
Status check_cache_memory(const Model& model, int64_t n_ctx, int64_t n_seqs, const std::string& flag);

}  // namespace dseek
