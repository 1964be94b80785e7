// See cache_rows.h. Decoding runs for every key attention reads, so it is the
// fast path: branch-free loops over independent elements (a shift for bf16, a
// 256-entry table for E4M3) that the compiler vectorises for any ISA, giving
// the scalar reference's bits. Encoding runs once per token and layer and is
// the reference itself, except bf16's integer rounding, which is branch-free too.
#include "kernels/cache_rows.h"

#include <array>
#include <bit>
#include <cstring>

#include "kernels/ref/cache_rows_ref.h"
#include "kernels/ref/reference.h"

namespace dseek {

bool parse_kv_cache_type(std::string_view name, KvCacheType* out) {
  if (name == "f32") *out = KvCacheType::kF32;
  else if (name == "bf16") *out = KvCacheType::kBf16;
  else if (name == "fp8") *out = KvCacheType::kFp8;
  else return false;
  return true;
}

const char* kv_cache_type_name(KvCacheType t) {
  switch (t) {
    case KvCacheType::kBf16: return "bf16";
    case KvCacheType::kFp8: return "fp8";
    default: return "f32";
  }
}

namespace kernels {
namespace {

// Round to nearest even on the upper half, NaN kept quiet (f32_to_bf16 without branches).
inline uint16_t bf16_rne(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = (x + 0x7FFFu + ((x >> 16) & 1u)) >> 16;
  const uint32_t nan = (x >> 16) | 0x40u;
  return static_cast<uint16_t>((x & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);
}

void decode_fp8_part(const uint8_t* q, int64_t n, float scale, float* x) {
  const std::array<float, 256>& lut = fp8_table();
  for (int64_t i = 0; i < n; ++i) x[i] = lut[q[i]] * scale;
}

}  // namespace

int64_t cache_row_floats(KvCacheType t, int64_t n_lat, int64_t n_rope) {
  const int64_t n = n_lat + n_rope;
  switch (t) {
    case KvCacheType::kBf16: return (n + 1) / 2;
    case KvCacheType::kFp8: return 2 + (n + 3) / 4;
    default: return n;
  }
}

void encode_cache_row(KvCacheType t, const float* x, int64_t n_lat, int64_t n_rope, float* row) {
  if (t != KvCacheType::kBf16) return encode_cache_row_ref(t, x, n_lat, n_rope, row);
  auto* out = reinterpret_cast<uint16_t*>(row);
  for (int64_t i = 0; i < n_lat + n_rope; ++i) out[i] = bf16_rne(x[i]);
}

void decode_cache_row(KvCacheType t, const float* row, int64_t n_lat, int64_t n_rope, float* x) {
  if (t == KvCacheType::kF32) {
    std::memcpy(x, row, static_cast<size_t>(n_lat + n_rope) * sizeof(float));
  } else if (t == KvCacheType::kBf16) {
    const auto* in = reinterpret_cast<const uint16_t*>(row);
    for (int64_t i = 0; i < n_lat + n_rope; ++i) x[i] = std::bit_cast<float>(static_cast<uint32_t>(in[i]) << 16);
  } else {
    const auto* in = reinterpret_cast<const uint8_t*>(row + 2);
    decode_fp8_part(in, n_lat, row[0], x);
    decode_fp8_part(in + n_lat, n_rope, row[1], x + n_lat);
  }
}

}  // namespace kernels
}  // namespace dseek
