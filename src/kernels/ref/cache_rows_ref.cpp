// See cache_rows_ref.h.
#include "kernels/ref/cache_rows_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/float_convert.h"

namespace dseek::kernels {
namespace {

constexpr float kFp8Max = 448.0f;

}  // namespace

float fp8_cache_scale_ref(const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax > 0.0f ? amax / kFp8Max : 1.0f;
}

void encode_cache_row_ref(KvCacheType t, const float* x, int64_t n_lat, int64_t n_rope, float* row) {
  const int64_t n = n_lat + n_rope;
  if (t == KvCacheType::kF32) {
    std::memcpy(row, x, static_cast<size_t>(n) * sizeof(float));
  } else if (t == KvCacheType::kBf16) {
    auto* out = reinterpret_cast<uint16_t*>(row);
    for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
  } else {
    row[0] = fp8_cache_scale_ref(x, n_lat);
    row[1] = fp8_cache_scale_ref(x + n_lat, n_rope);
    auto* out = reinterpret_cast<uint8_t*>(row + 2);
    for (int64_t i = 0; i < n; ++i) out[i] = f32_to_fp8_e4m3(x[i] / row[i < n_lat ? 0 : 1]);
  }
}

void decode_cache_row_ref(KvCacheType t, const float* row, int64_t n_lat, int64_t n_rope, float* x) {
  const int64_t n = n_lat + n_rope;
  if (t == KvCacheType::kF32) {
    std::memcpy(x, row, static_cast<size_t>(n) * sizeof(float));
  } else if (t == KvCacheType::kBf16) {
    const auto* in = reinterpret_cast<const uint16_t*>(row);
    for (int64_t i = 0; i < n; ++i) x[i] = bf16_to_f32(in[i]);
  } else {
    const auto* in = reinterpret_cast<const uint8_t*>(row + 2);
    for (int64_t i = 0; i < n; ++i) x[i] = fp8_e4m3_to_f32(in[i]) * row[i < n_lat ? 0 : 1];
  }
}

}  // namespace dseek::kernels
