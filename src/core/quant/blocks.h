// GGUF block-quantised layouts (ggml's block_q4_0, q8_0, q4_K, q5_K, q6_K),
// one struct each with a size static_assert. Half-precision scales are raw
// uint16 bits (IEEE binary16). Dequantisation lives in kernels/.
#pragma once

#include <cstdint>

namespace dseek {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK_K = 256;        // super-block of the k-quants
inline constexpr int kKScaleBytes = 12;  // packed 6-bit scales/mins of q4_K, q5_K

// 32 weights: x = d * (q - 8), q in [0,15]; low nibbles hold elements 0..15,
// high nibbles 16..31.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// 32 weights: x = d * q, q int8.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

// 256 weights in 8 sub-blocks of 32: x = d*sc_j*q - dmin*m_j, 6-bit sc/m packed
// in `scales`, 4-bit q. Each 64-element chunk uses 32 bytes of qs: low nibbles
// first 32 elements, high nibbles next 32.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// As q4_K plus a fifth bit per weight in qh.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// 256 weights in 16 sub-blocks of 16: x = d * sc_j * (q - 32), q 6-bit
// (4 low bits in ql, 2 high bits in qh), sc int8.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

}  // namespace dseek
