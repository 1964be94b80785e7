// See mxfp4_rows.h.
#include "model/mxfp4_rows.h"

#include <algorithm>
#include <cmath>

namespace dseek {
namespace {

constexpr int kHalf = kQKMxfp4 / 2;

// Nibble of element i (0..31) of a DeepSeek row segment of 16 bytes.
uint8_t ds_nibble(const uint8_t* seg, int i) { return (seg[i / 2] >> (4 * (i % 2))) & 0xF; }

// The E2M1 code (without sign) nearest to |v| on the levels 0, 0.5, 1, 1.5, 2, 3, 4, 6.
uint8_t e2m1_code(float a) {
  static constexpr float kLevels[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  uint8_t best = 0;
  for (uint8_t c = 1; c < 8; ++c) {
    const float d = std::fabs(a - kLevels[c]), d_best = std::fabs(a - kLevels[best]);
    if (d < d_best || (d == d_best && c % 2 == 0)) best = c;
  }
  return best;
}

}  // namespace

void mxfp4_row_from_deepseek(const uint8_t* packed, const uint8_t* scales, int64_t cols, BlockMxfp4* out) {
  for (int64_t b = 0; b < cols / kQKMxfp4; ++b) {
    const uint8_t* seg = packed + b * kHalf;
    BlockMxfp4& blk = out[b];
    blk.e = scales[b];
    // ggml: byte j holds element j (low nibble) and element j + 16 (high nibble).
    for (int j = 0; j < kHalf; ++j)
      blk.qs[j] = static_cast<uint8_t>(ds_nibble(seg, j) | (ds_nibble(seg, j + kHalf) << 4));
  }
}

void mxfp4_row_to_deepseek(const BlockMxfp4* in, int64_t cols, uint8_t* packed, uint8_t* scales) {
  for (int64_t b = 0; b < cols / kQKMxfp4; ++b) {
    const BlockMxfp4& blk = in[b];
    scales[b] = blk.e;
    uint8_t* seg = packed + b * kHalf;
    auto nibble = [&](int i) { return i < kHalf ? blk.qs[i] & 0xF : blk.qs[i - kHalf] >> 4; };
    for (int k = 0; k < kHalf; ++k) seg[k] = static_cast<uint8_t>(nibble(2 * k) | (nibble(2 * k + 1) << 4));
  }
}

void mxfp4_row_from_float(const float* x, int64_t cols, BlockMxfp4* out) {
  for (int64_t b = 0; b < cols / kQKMxfp4; ++b) {
    const float* v = x + b * kQKMxfp4;
    float amax = 0;
    for (int i = 0; i < kQKMxfp4; ++i) amax = std::max(amax, std::fabs(v[i]));
    // Smallest e with amax / 2^(e-127) <= 6; an all-zero block takes the smallest scale.
    int e = amax > 0 ? static_cast<int>(std::ceil(std::log2(amax / 6.0f))) + 127 : 0;
    e = e < 0 ? 0 : e > 254 ? 254 : e;
    const float inv = std::ldexp(1.0f, 127 - e);
    BlockMxfp4& blk = out[b];
    blk.e = static_cast<uint8_t>(e);
    auto code = [&](int i) {
      const uint8_t c = e2m1_code(std::fabs(v[i]) * inv);
      return static_cast<uint8_t>(v[i] < 0 && c != 0 ? c | 8 : c);
    };
    for (int j = 0; j < kHalf; ++j) blk.qs[j] = static_cast<uint8_t>(code(j) | (code(j + kHalf) << 4));
  }
}

}  // namespace dseek
