// GGUF layouts of the codebook ("i-quant") and ternary types: ggml's
// block_iq2_xxs ... iq1_m, tq1_0, tq2_0. Each 256-weight super-block stores
// indices into fixed grids of 4 or 8 values (core/quant/iq_grids.h), signs and
// small per-32 scales. Half-precision scales are raw uint16 bits.
#pragma once

#include <cstdint>

#include "core/quant/blocks.h"

namespace dseek {

// 2.06 bpw. Per 32 weights two uint32: four 8-bit iq2xxs grid indices, then
// four 7-bit sign groups and a 4-bit scale s: x = d*(0.5+s)*0.25 * grid * sign.
struct BlockIQ2_XXS {
  uint16_t d;
  uint16_t qs[kQK_K / 8];
};
static_assert(sizeof(BlockIQ2_XXS) == 66);

// 2.31 bpw. Per 8 weights a uint16: 9-bit iq2xs grid index, 7-bit sign group;
// per 32 weights two 4-bit scales (one per 16).
struct BlockIQ2_XS {
  uint16_t d;
  uint16_t qs[kQK_K / 8];
  uint8_t scales[kQK_K / 32];
};
static_assert(sizeof(BlockIQ2_XS) == 74);

// 2.56 bpw. 10-bit iq2s grid indices (low 8 in qs, high 2 in qh), explicit
// sign bytes in the second half of qs, two 4-bit scales per 32.
struct BlockIQ2_S {
  uint16_t d;
  uint8_t qs[kQK_K / 4];
  uint8_t qh[kQK_K / 32];
  uint8_t scales[kQK_K / 32];
};
static_assert(sizeof(BlockIQ2_S) == 82);

// 3.06 bpw. 64 8-bit iq3xxs grid indices (4 values each), then per 32 weights
// a uint32 of four 7-bit sign groups and a 4-bit scale: x = d*(0.5+s)*0.5 * ...
struct BlockIQ3_XXS {
  uint16_t d;
  uint8_t qs[3 * kQK_K / 8];
};
static_assert(sizeof(BlockIQ3_XXS) == 98);

// 3.44 bpw. 9-bit iq3s grid indices (low 8 in qs, ninth bit in qh), explicit
// signs, one 4-bit scale per 32: x = d*(1+2s) * grid * sign.
struct BlockIQ3_S {
  uint16_t d;
  uint8_t qs[kQK_K / 4];
  uint8_t qh[kQK_K / 32];
  uint8_t signs[kQK_K / 8];
  uint8_t scales[kQK_K / 64];
};
static_assert(sizeof(BlockIQ3_S) == 110);

// 1.56 bpw. 11-bit iq1s grid indices (8 ternary values; low 8 bits in qs,
// 3 high bits in qh), per 32 weights qh also holds a 3-bit scale and the sign
// of a +-1/8 shift: x = d*(2s+1) * (grid + delta).
struct BlockIQ1_S {
  uint16_t d;
  uint8_t qs[kQK_K / 8];
  uint16_t qh[kQK_K / 32];
};
static_assert(sizeof(BlockIQ1_S) == 50);

// 1.75 bpw. As iq1_s with a shift sign per 8 weights and 3-bit scales per 16;
// the fp16 super-block scale is spread over the top nibbles of the four
// uint16 scale words.
struct BlockIQ1_M {
  uint8_t qs[kQK_K / 8];
  uint8_t qh[kQK_K / 16];
  uint8_t scales[kQK_K / 32];
};
static_assert(sizeof(BlockIQ1_M) == 56);

// 1.69 bpw ternary: 5 base-3 digits per byte in qs (240 weights), 4 per byte
// in qh (16 weights); x = d * (t - 1).
struct BlockTQ1_0 {
  uint8_t qs[(kQK_K - 4 * kQK_K / 64) / 5];
  uint8_t qh[kQK_K / 64];
  uint16_t d;
};
static_assert(sizeof(BlockTQ1_0) == 54);

// 2.06 bpw ternary: 2-bit t in four planes of 32 per 32 bytes; x = d * (t - 1).
struct BlockTQ2_0 {
  uint8_t qs[kQK_K / 4];
  uint16_t d;
};
static_assert(sizeof(BlockTQ2_0) == 66);

}  // namespace dseek
