// Scalar dequantisation of q4_1, q5_0, q5_1, q2_K, q3_K, iq4_nl, iq4_xs,
// tq1_0, tq2_0 and mxfp4: ggml's to_float, operation for operation (each
// product and sum a separately rounded f32 step, in ggml's order), so the
// results equal llama.cpp's bit for bit (tests/kernels/test_quant_zoo.cpp).
#include <bit>
#include <limits>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "core/quant/iq_blocks.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

constexpr int kHalf = kQK4_0 / 2;

// The fifth bits of q5_0 / q5_1: element j's in bit j of a little-endian uint32.
uint32_t fifth_bits(const uint8_t (&qh)[4]) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 | static_cast<uint32_t>(qh[2]) << 16 |
         static_cast<uint32_t>(qh[3]) << 24;
}

// q3_K's sixteen 6-bit scales: low 4 bits in scales[0..7] (nibbles), high 2
// bits in scales[8..11] (2-bit fields), stored with an offset of 32.
void q3_k_scales(const uint8_t* s, int* out) {
  for (int j = 0; j < 16; ++j) {
    const int low = (s[j % 8] >> (4 * (j / 8))) & 0xF;
    const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = (low | (high << 4)) - 32;
  }
}

// One base-3 digit of a tq1_0 byte: the byte scaled by 3^n (mod 256), then
// the top of 3*q: the fixed-point digit extraction ggml's format defines.
float tq1_digit(uint8_t byte, int n, float d) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto q = static_cast<uint8_t>(byte * kPow3[n]);
  const int t = (static_cast<uint16_t>(q) * 3) >> 8;
  return static_cast<float>(t - 1) * d;
}

}  // namespace

void dequant_q4_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const auto b = load_any_block<BlockQ4_1>(src, i);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>(b.qs[j] & 0xF) * d + m;
      y[j + kHalf] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

void dequant_q5_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const auto b = load_any_block<BlockQ5_0>(src, i);
    const float d = f16_to_f32(b.d);
    const uint32_t qh = fifth_bits(b.qh);
    for (int j = 0; j < kHalf; ++j) {
      const int x0 = static_cast<int>((b.qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
      const int x1 = static_cast<int>((b.qs[j] >> 4) | (((qh >> (j + kHalf)) & 1) << 4)) - 16;
      y[j] = static_cast<float>(x0) * d;
      y[j + kHalf] = static_cast<float>(x1) * d;
    }
  }
}

void dequant_q5_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const auto b = load_any_block<BlockQ5_1>(src, i);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    const uint32_t qh = fifth_bits(b.qh);
    for (int j = 0; j < kHalf; ++j) {
      const uint32_t x0 = (b.qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const uint32_t x1 = (b.qs[j] >> 4) | (((qh >> (j + kHalf)) & 1) << 4);
      y[j] = static_cast<float>(x0) * d + m;
      y[j + kHalf] = static_cast<float>(x1) * d + m;
    }
  }
}

void dequant_q2_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockQ2_K>(src, i);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {  // two sub-blocks of 16 per plane
          const uint8_t sc = b.scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF), ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void dequant_q3_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockQ3_K>(src, i);
    const float d = f16_to_f32(b.d);
    int scales[16];
    q3_k_scales(b.scales, scales);
    int is = 0;
    uint8_t m = 1;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d * static_cast<float>(scales[is++]);
          for (int l = 16 * part; l < 16 * part + 16; ++l) {
            const int v = ((q[l] >> shift) & 3) - ((b.hmask[l] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

void dequant_iq4_nl(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_NL) {
    const auto b = load_any_block<BlockIQ4_NL>(src, i);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      y[j] = d * static_cast<float>(kIq4nlValues[b.qs[j] & 0xF]);
      y[j + kQK4_NL / 2] = d * static_cast<float>(kIq4nlValues[b.qs[j] >> 4]);
    }
  }
}

void dequant_iq4_xs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockIQ4_XS>(src, i);
    const float d = f16_to_f32(b.d);
    for (int ib = 0; ib < kQK_K / 32; ++ib, y += 32) {
      const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = b.qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIq4nlValues[qs[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
      }
    }
  }
}

// qs: 48 bytes as one run of 32 then one of 16, each byte giving 5 digits
// (digit n of the run's bytes in turn); then qh's 4 bytes give 4 digits each.
void dequant_tq1_0(const void* src, float* y, int64_t nb) {
  constexpr int kQs = sizeof(BlockTQ1_0::qs), kRun32 = kQs - kQs % 32;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockTQ1_0>(src, i);
    const float d = f16_to_f32(b.d);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) *y++ = tq1_digit(b.qs[m], n, d);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < kQs - kRun32; ++m) *y++ = tq1_digit(b.qs[kRun32 + m], n, d);
    for (int n = 0; n < 4; ++n)
      for (int j = 0; j < static_cast<int>(sizeof b.qh); ++j) *y++ = tq1_digit(b.qh[j], n, d);
  }
}

void dequant_tq2_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockTQ2_0>(src, i);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < static_cast<int>(sizeof b.qs); j += 32)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((b.qs[j + m] >> (2 * l)) & 3) - 1) * d;
  }
}

float e8m0_to_float(uint8_t e) {
  if (e == 0xFF) return std::numeric_limits<float>::quiet_NaN();
  // 2^(e-127): e = 0 is 2^-127, a subnormal f32 (bit 22 alone).
  return e == 0 ? std::bit_cast<float>(uint32_t{1} << 22) : std::bit_cast<float>(static_cast<uint32_t>(e) << 23);
}

void dequant_mxfp4(const void* src, float* y, int64_t nb) {
  // E2M1 codes: sign bit 3, then 0, 0.5, 1, 1.5, 2, 3, 4, 6.
  static constexpr float kE2M1[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                      -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  for (int64_t i = 0; i < nb; ++i, y += kQKMxfp4) {
    const auto b = load_any_block<BlockMxfp4>(src, i);
    const float scale = e8m0_to_float(b.e);
    for (int j = 0; j < kQKMxfp4 / 2; ++j) {
      y[j] = kE2M1[b.qs[j] & 0xF] * scale;
      y[j + kQKMxfp4 / 2] = kE2M1[b.qs[j] >> 4] * scale;
    }
  }
}

}  // namespace dseek::kernels
