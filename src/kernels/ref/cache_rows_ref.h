// Scalar references of the cache-row encodings (kernels/cache_rows.h): one
// element at a time through core/float_convert.h, what the fast loops must match bit for bit.
#pragma once

#include <cstdint>

#include "kernels/cache_rows.h"

namespace dseek::kernels {

void encode_cache_row_ref(KvCacheType t, const float* x, int64_t n_lat, int64_t n_rope, float* row);
void decode_cache_row_ref(KvCacheType t, const float* row, int64_t n_lat, int64_t n_rope, float* x);
// The fp8 encoding's scale of one part: amax / 448, or 1 when the part is all zero.
float fp8_cache_scale_ref(const float* x, int64_t n);

}  // namespace dseek::kernels
