// Writers for the classic 32-value blocks with an offset or a fifth bit:
// q4_1 and q5_1 (x = d*q + m: min-max over the block, q in 0..15 / 0..31)
// and q5_0 (x = d*(q - 16): the largest magnitude maps to -16, as q4_0 maps
// it to -8). Levels are chosen against the stored (f16-rounded) d and m, so
// the rounding of the scales costs nothing beyond the level step.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

constexpr int kHalf = kQK4_0 / 2;

int level(float v, float d, float m, int top) {
  return d > 0 ? std::clamp(static_cast<int>(std::lround((v - m) / d)), 0, top) : 0;
}

// Element j's level: low nibble of qs[j] (j < 16) or high nibble of qs[j-16]; bit 4 into qh's bit j.
template <class Block>
void pack_levels(const int* q, Block& b, bool fifth) {
  uint32_t qh = 0;
  for (int j = 0; j < kHalf; ++j) b.qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + kHalf] & 0xF) << 4));
  if (!fifth) return;
  for (int j = 0; j < kQK4_0; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  if constexpr (requires { b.qh; }) std::memcpy(b.qh, &qh, sizeof qh);  // little-endian, as the dequantiser reads it
}

// q4_1 / q5_1: d = (max - min) / top, m = min.
template <class Block>
void quant_min_max(const float* x, Block* b, int64_t nb, int top) {
  int q[kQK4_0];
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    const auto [lo, hi] = std::minmax_element(x, x + kQK4_0);
    b[i].d = f32_to_f16((*hi - *lo) / static_cast<float>(top));
    b[i].m = f32_to_f16(*lo);
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    for (int j = 0; j < kQK4_0; ++j) q[j] = level(x[j], d, m, top);
    pack_levels(q, b[i], top > 15);
  }
}

}  // namespace

void quant_q4_1(const float* x, void* dst, int64_t nb) { quant_min_max(x, static_cast<BlockQ4_1*>(dst), nb, 15); }
void quant_q5_1(const float* x, void* dst, int64_t nb) { quant_min_max(x, static_cast<BlockQ5_1*>(dst), nb, 31); }

void quant_q5_0(const float* x, void* dst, int64_t nb) {
  auto* b = static_cast<BlockQ5_0*>(dst);
  int q[kQK4_0];
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    float amax = 0, vmax = 0;  // the value of largest magnitude, sign kept
    for (int j = 0; j < kQK4_0; ++j)
      if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), vmax = x[j];
    b[i].d = f32_to_f16(vmax / -16.0f);
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < kQK4_0; ++j)
      q[j] = d != 0 ? std::clamp(static_cast<int>(std::lround(x[j] / d)), -16, 15) + 16 : 16;
    pack_levels(q, b[i], true);
  }
}

}  // namespace dseek::kernels
