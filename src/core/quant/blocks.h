// GGUF block-quantised layouts of the classic and k-quant families (ggml's
// block_q4_0 ... q6_K, plus iq4_nl / iq4_xs and mxfp4, which share their
// shapes), one struct each with a size static_assert. Half-precision scales
// are raw uint16 bits (IEEE binary16). The codebook types (iq1/iq2/iq3, tq)
// are in iq_blocks.h. Dequantisation lives in kernels/.
#pragma once

#include <cstdint>

namespace dseek {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK_K = 256;        // super-block of the k-quants
inline constexpr int kKScaleBytes = 12;  // packed 6-bit scales/mins of q4_K, q5_K (and q3_K's scales)
inline constexpr int kQK4_NL = 32;
inline constexpr int kQKMxfp4 = 32;

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

// 32 weights: x = d * q + m, q in [0,15] (nibbles as q4_0).
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// 32 weights: x = d * (q - 16), q 5-bit: nibbles as q4_0, bit j of the
// little-endian uint32 qh is element j's fifth bit.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// As q5_0 with an offset: x = d * q + m, q in [0,31].
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// 256 weights in 16 sub-blocks of 16: x = d*sc_j*q - dmin*m_j, 4-bit sc
// (low nibble) and m (high nibble) per sub-block, 2-bit q. Each 128-element
// half uses 32 bytes of qs, four 2-bit planes of 32 elements.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// 256 weights in 16 sub-blocks of 16: x = d * (sc_j - 32) * (q - 4*!h), q the
// 2-bit planes as q2_K, h the element's bit in hmask, sc 6-bit packed in 12 bytes.
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[kKScaleBytes];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// 32 weights: x = d * kIq4nlValues[q], 4-bit q in q4_0's nibble order.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK4_NL / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

// 256 weights in 8 sub-blocks of 32: x = d * (ls_j - 32) * kIq4nlValues[q],
// ls 6-bit (low 4 bits in scales_l nibbles, high 2 in scales_h), q as iq4_nl.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

// OCP Microscaling MXFP4: 32 E2M1 values (nibbles in q4_0's order) sharing one
// E8M0 scale 2^(e-127) (e = 0xFF is NaN).
struct BlockMxfp4 {
  uint8_t e;
  uint8_t qs[kQKMxfp4 / 2];
};
static_assert(sizeof(BlockMxfp4) == 17);

// iq4_nl / iq4_xs's 16 non-linear levels (ggml's kvalues_iq4nl).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

}  // namespace dseek
