// Scalar dequantisation of the i-quant grid types (iq2_xxs, iq2_xs, iq2_s,
// iq3_xxs, iq3_s, iq1_s, iq1_m): ggml's to_float, operation for operation,
// so the values equal llama.cpp's bit for bit (scales are built in ggml's
// order, e.g. (d * (0.5 + s)) * 0.25, and the sign is a final * -1.f, which
// keeps -0.0 where ggml has it).
#include "core/float_convert.h"
#include "core/quant/iq_blocks.h"
#include "core/quant/iq_grids.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

// Byte k of a grid entry (the grids store value k in byte k).
inline uint8_t grid_byte(uint64_t entry, int k) { return static_cast<uint8_t>(entry >> (8 * k)); }

// Eight weights from one 8-value grid entry and its sign byte.
void emit8(float scale, uint64_t entry, uint8_t signs, float* y) {
  for (int j = 0; j < 8; ++j)
    y[j] = scale * static_cast<float>(grid_byte(entry, j)) * ((signs >> j) & 1 ? -1.0f : 1.0f);
}

// Eight weights from two 4-value grid entries and one sign byte.
void emit4x2(float scale, uint32_t a, uint32_t b, uint8_t signs, float* y) {
  for (int j = 0; j < 4; ++j) {
    y[j] = scale * static_cast<float>(grid_byte(a, j)) * ((signs >> j) & 1 ? -1.0f : 1.0f);
    y[j + 4] = scale * static_cast<float>(grid_byte(b, j)) * ((signs >> (j + 4)) & 1 ? -1.0f : 1.0f);
  }
}

// Eight weights of iq1_s / iq1_m: scale * (ternary value + shift).
void emit_iq1(float scale, uint64_t entry, float delta, float* y) {
  for (int j = 0; j < 8; ++j) y[j] = scale * (static_cast<float>(static_cast<int8_t>(grid_byte(entry, j))) + delta);
}

uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

void dequant_iq2_xxs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockIQ2_XXS>(src, i);
    const float d = f16_to_f32(b.d);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint32_t idx = b.qs[4 * ib] | static_cast<uint32_t>(b.qs[4 * ib + 1]) << 16;  // four 8-bit indices
      const uint32_t aux = b.qs[4 * ib + 2] | static_cast<uint32_t>(b.qs[4 * ib + 3]) << 16;
      const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) emit8(db, kIq2xxsGrid[(idx >> (8 * l)) & 0xFF], iq2_signs(aux >> (7 * l)), y);
    }
  }
}

void dequant_iq2_xs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockIQ2_XS>(src, i);
    const float d = f16_to_f32(b.d);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const float db[2] = {d * (0.5f + static_cast<float>(b.scales[ib] & 0xF)) * 0.25f,
                           d * (0.5f + static_cast<float>(b.scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = b.qs[4 * ib + l];
        emit8(db[l / 2], kIq2xsGrid[q & 511], iq2_signs(q >> 9), y);
      }
    }
  }
}

void dequant_iq2_s(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockIQ2_S>(src, i);
    const float d = f16_to_f32(b.d);
    const uint8_t* signs = b.qs + kQK_K / 8;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const float db[2] = {d * (0.5f + static_cast<float>(b.scales[ib] & 0xF)) * 0.25f,
                           d * (0.5f + static_cast<float>(b.scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint32_t index = b.qs[4 * ib + l] | ((static_cast<uint32_t>(b.qh[ib]) << (8 - 2 * l)) & 0x300);
        emit8(db[l / 2], kIq2sGrid[index], signs[4 * ib + l], y);
      }
    }
  }
}

void dequant_iq3_xxs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockIQ3_XXS>(src, i);
    const float d = f16_to_f32(b.d);
    const uint8_t* scales_and_signs = b.qs + kQK_K / 4;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint32_t aux = le32(scales_and_signs + 4 * ib);
      const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
      const uint8_t* qs = b.qs + 8 * ib;
      for (int l = 0; l < 4; ++l, y += 8)
        emit4x2(db, kIq3xxsGrid[qs[2 * l]], kIq3xxsGrid[qs[2 * l + 1]], iq2_signs(aux >> (7 * l)), y);
    }
  }
}

void dequant_iq3_s(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockIQ3_S>(src, i);
    const float d = f16_to_f32(b.d);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {  // the two 32s of a scale byte: low nibble, then high
      const int s = (b.scales[ib / 2] >> (4 * (ib % 2))) & 0xF;
      const float db = d * static_cast<float>(1 + 2 * s);
      const uint8_t* qs = b.qs + 8 * ib;
      const uint32_t qh = b.qh[ib];
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint32_t i0 = qs[2 * l] | ((qh << (8 - 2 * l)) & 256);
        const uint32_t i1 = qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
        emit4x2(db, kIq3sGrid[i0], kIq3sGrid[i1], b.signs[4 * ib + l], y);
      }
    }
  }
}

void dequant_iq1_s(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockIQ1_S>(src, i);
    const float d = f16_to_f32(b.d);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint32_t qh = b.qh[ib];
      const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
      for (int l = 0; l < 4; ++l, y += 8)
        emit_iq1(dl, kIq1sGrid[b.qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)], delta, y);
    }
  }
}

void dequant_iq1_m(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_any_block<BlockIQ1_M>(src, i);
    uint16_t sc[4];
    for (int k = 0; k < 4; ++k) sc[k] = static_cast<uint16_t>(b.scales[2 * k] | (b.scales[2 * k + 1] << 8));
    // The fp16 super-block scale: the top nibble of each scale word, word 0 lowest.
    const auto d16 = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) |
                                           (sc[3] & 0xF000));
    const float d = f16_to_f32(d16);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint8_t* qs = b.qs + 4 * ib;
      const uint8_t* qh = b.qh + 2 * ib;
      const float dl[2] = {d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1),
                           d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1)};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint32_t h = qh[l / 2] >> (4 * (l % 2));  // this group's 3 index bits and shift sign
        const float delta = h & 0x08 ? -kIq1Delta : kIq1Delta;
        emit_iq1(dl[l / 2], kIq1sGrid[qs[l] | ((h & 7) << 8)], delta, y);
      }
    }
  }
}

}  // namespace dseek::kernels
