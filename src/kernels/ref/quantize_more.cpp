// Scalar quantisers for q2_K, q3_K, iq4_nl and iq4_xs (`dseek quantize`,
// `dseek init`). Simple and deterministic: per-block max-magnitude or min-max
// scales, then one least-squares refit of each 32-value scale for the
// non-linear iq4 levels; not ggml's search (tests bound the error against
// ggml's own quantisation of the zoo matrix). Blocks are the layouts the
// dequantisers in dequant_simple.cpp read.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

// The value of largest magnitude, sign kept (the first of equals).
float signed_max(const float* x, int n) {
  float amax = 0, v = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), v = x[i];
  return v;
}

int clamp_round(float v, int lo, int hi) { return std::clamp(static_cast<int>(std::lround(v)), lo, hi); }

// The iq4 level (index into kIq4nlValues, which is sorted) nearest to v.
int nearest_iq4(float v) {
  int best = 0;
  for (int k = 1; k < 16; ++k)
    if (std::fabs(v - kIq4nlValues[k]) < std::fabs(v - kIq4nlValues[best])) best = k;
  return best;
}

// 32 values on the iq4 levels: the scale that maps the largest magnitude to
// -127 (the widest level), then refitted by least squares to the levels chosen.
float iq4_scale(const float* x, uint8_t* idx) {
  const float vmax = signed_max(x, 32);
  if (vmax == 0) {
    std::fill(idx, idx + 32, nearest_iq4(0));
    return 0.0f;
  }
  const float d = vmax / static_cast<float>(kIq4nlValues[0]);
  double xv = 0, vv = 0;
  for (int j = 0; j < 32; ++j) {
    idx[j] = static_cast<uint8_t>(nearest_iq4(x[j] / d));
    xv += static_cast<double>(x[j]) * kIq4nlValues[idx[j]];
    vv += static_cast<double>(kIq4nlValues[idx[j]]) * kIq4nlValues[idx[j]];
  }
  return vv > 0 ? static_cast<float>(xv / vv) : d;
}

// Indices of 32 values for the effective scale d (0 maps to the level nearest 0).
void iq4_indices(const float* x, float d, uint8_t* idx) {
  for (int j = 0; j < 32; ++j) idx[j] = static_cast<uint8_t>(nearest_iq4(d != 0 ? x[j] / d : 0.0f));
}

void pack_nibbles(const uint8_t* idx, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(idx[j] | (idx[j + 16] << 4));
}

// q2_K / q3_K's 2-bit planes: element e's low bits at byte 32*(e/128) + e%32, shift 2*((e%128)/32).
void pack_2bit(const int* q, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 4);
  for (int e = 0; e < kQK_K; ++e)
    qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>((q[e] & 3) << (2 * ((e % 128) / 32)));
}

}  // namespace

void quant_iq4_nl(const float* x, void* dst, int64_t nb) {
  auto* b = static_cast<BlockIQ4_NL*>(dst);
  uint8_t idx[32];
  for (int64_t i = 0; i < nb; ++i, x += kQK4_NL) {
    b[i].d = f32_to_f16(iq4_scale(x, idx));
    iq4_indices(x, f16_to_f32(b[i].d), idx);
    pack_nibbles(idx, b[i].qs);
  }
}

void quant_iq4_xs(const float* x, void* dst, int64_t nb) {
  auto* b = static_cast<BlockIQ4_XS*>(dst);
  uint8_t idx[32];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float scale[8];
    for (int j = 0; j < 8; ++j) scale[j] = iq4_scale(x + 32 * j, idx);
    const float smax = signed_max(scale, 8);
    b[i].d = f32_to_f16(smax / -32.0f);  // ls - 32 spans [-32, 31]: the largest maps to -32
    const float d = f16_to_f32(b[i].d);
    b[i].scales_h = 0;
    std::memset(b[i].scales_l, 0, sizeof b[i].scales_l);
    for (int j = 0; j < 8; ++j) {
      const int ls = d != 0 ? clamp_round(scale[j] / d, -32, 31) + 32 : 32;
      b[i].scales_l[j / 2] |= static_cast<uint8_t>((ls & 0xF) << (4 * (j % 2)));
      b[i].scales_h = static_cast<uint16_t>(b[i].scales_h | ((ls >> 4) << (2 * j)));
      iq4_indices(x + 32 * j, d * static_cast<float>(ls - 32), idx);
      pack_nibbles(idx, b[i].qs + 16 * j);
    }
  }
}

void pack_q2_k(const float* x, const float* step, const float* low, BlockQ2_K& b) {
  b.d = f32_to_f16(*std::max_element(step, step + 16) / 15.0f);
  b.dmin = f32_to_f16(*std::max_element(low, low + 16) / 15.0f);
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  int q[kQK_K];
  for (int j = 0; j < 16; ++j) {
    const int sc = d > 0 ? clamp_round(step[j] / d, 0, 15) : 0;
    const int m = dmin > 0 ? std::clamp(static_cast<int>(std::ceil(low[j] / dmin)), 0, 15) : 0;
    b.scales[j] = static_cast<uint8_t>(sc | (m << 4));
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
    for (int l = 0; l < 16; ++l) q[16 * j + l] = dl > 0 ? clamp_round((x[16 * j + l] + ml) / dl, 0, 3) : 0;
  }
  pack_2bit(q, b.qs);
}

void quant_q2_k(const float* x, void* dst, int64_t nb) {
  auto* b = static_cast<BlockQ2_K*>(dst);
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float step[16], low[16];  // per 16: x ~ step*q - low, q in 0..3, low >= 0
    for (int j = 0; j < 16; ++j) {
      const float* s = x + 16 * j;
      const float lo = std::min(0.0f, *std::min_element(s, s + 16)), hi = *std::max_element(s, s + 16);
      low[j] = -lo;
      step[j] = (hi - lo) / 3.0f;
    }
    pack_q2_k(x, step, low, b[i]);
  }
}

void pack_q3_k(const float* x, const float* scale, BlockQ3_K& b) {
  b.d = f32_to_f16(signed_max(scale, 16) / -32.0f);
  const float d = f16_to_f32(b.d);
  std::memset(b.scales, 0, sizeof b.scales);
  std::memset(b.hmask, 0, sizeof b.hmask);
  int q[kQK_K];
  for (int j = 0; j < 16; ++j) {
    const int v = d != 0 ? clamp_round(scale[j] / d, -32, 31) : 0;
    b.scales[j % 8] |= static_cast<uint8_t>(((v + 32) & 0xF) << (4 * (j / 8)));
    b.scales[8 + j % 4] |= static_cast<uint8_t>(((v + 32) >> 4) << (2 * (j / 4)));
    const float dl = d * static_cast<float>(v);
    for (int l = 0; l < 16; ++l) {
      const int e = 16 * j + l;
      q[e] = (dl != 0 ? clamp_round(x[e] / dl, -4, 3) : 0) + 4;  // 0..7: low 2 bits + high bit
      if (q[e] >= 4) b.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
    }
  }
  pack_2bit(q, b.qs);
}

void quant_q3_k(const float* x, void* dst, int64_t nb) {
  auto* b = static_cast<BlockQ3_K*>(dst);
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float scale[16];  // per 16: x ~ scale * q3, q3 in -4..3, the largest magnitude at -4
    for (int j = 0; j < 16; ++j) scale[j] = signed_max(x + 16 * j, 16) / -4.0f;
    pack_q3_k(x, scale, b[i]);
  }
}

}  // namespace dseek::kernels
