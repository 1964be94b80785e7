// Storage of MLA cache rows ([c_kv | k_rope]) in a narrower type than f32
// (`--cache-type`), so long contexts fit in memory. The math always runs in
// f32: a row is encoded once when its token is written and decoded into f32
// scratch when attention reads it.
//   f32  : n_lat + n_rope floats, as computed (the default; no conversion at all)
//   bf16 : the values rounded to nearest even, two per float slot
//   fp8  : two f32 scales (latent part, rope part: their magnitudes differ, the
//          latent is RMS-normalised and k_rope is not), then every value as
//          E4M3 of value / scale, four per float slot; scale = amax / 448
//          (1 for an all-zero part), so the part's largest value is exact-range.
// The row lives inside the cache's float storage, so pages, prefix sharing and
// the indexer record after it need no knowledge of the type.
#pragma once

#include <cstdint>
#include <string_view>

namespace dseek {

enum class KvCacheType { kF32, kBf16, kFp8 };

// "f32" | "bf16" | "fp8"; false for anything else.
bool parse_kv_cache_type(std::string_view name, KvCacheType* out);
const char* kv_cache_type_name(KvCacheType t);

namespace kernels {

// Float slots a row of n_lat + n_rope values takes when stored as `t`.
int64_t cache_row_floats(KvCacheType t, int64_t n_lat, int64_t n_rope);
// Stores x [n_lat + n_rope] into row (cache_row_floats slots). f32 copies.
void encode_cache_row(KvCacheType t, const float* x, int64_t n_lat, int64_t n_rope, float* row);
// x [n_lat + n_rope] = the stored row's values. Bit-identical to the scalar
// references (kernels/ref/cache_rows_ref.h): the fast loops only reorder independent elements.
void decode_cache_row(KvCacheType t, const float* row, int64_t n_lat, int64_t n_rope, float* x);

}  // namespace kernels
}  // namespace dseek
