// Decoders of the i-quant grid types (iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s,
// iq1_s, iq1_m) into the decoded-row form (decoded_row.h): signed grid values
// as integers, the per-32 or per-16 scales as ggml's to_float forms them.
// iq1's +-1/8 shift is exact in eighths: q = 8 * grid +- 1 with scale dl / 8.
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/iq_blocks.h"
#include "core/quant/iq_grids.h"
#include "kernels/int8_decode/decoded_row.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

inline int grid_byte(uint64_t entry, int k) { return static_cast<uint8_t>(entry >> (8 * k)); }

// Eight values of an 8-value grid entry with a sign byte (bit j: value j negative).
void put8(uint64_t entry, uint8_t signs, int8_t* q) {
  for (int j = 0; j < 8; ++j) q[j] = static_cast<int8_t>((signs >> j) & 1 ? -grid_byte(entry, j) : grid_byte(entry, j));
}

// Eight values from two 4-value grid entries and one sign byte.
void put4x2(uint32_t a, uint32_t b, uint8_t signs, int8_t* q) {
  put8(static_cast<uint64_t>(a) | static_cast<uint64_t>(b) << 32, signs, q);
}

// iq1: eight ternary grid values, shifted by +-1/8, in eighths.
void put_iq1(uint64_t entry, bool negative_shift, int8_t* q) {
  for (int j = 0; j < 8; ++j) q[j] = static_cast<int8_t>(8 * static_cast<int8_t>(grid_byte(entry, j)) + (negative_shift ? -1 : 1));
}

uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// (d * (0.5 + s)) * 0.25: the iq2 scale of ggml's to_float.
float iq2_scale(float d, int s) { return d * (0.5f + static_cast<float>(s)) * 0.25f; }

}  // namespace

void decode_iq2_xxs(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockIQ2_XXS>(row, sb);
    const float d = f16_to_f32(blk.d);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint32_t idx = blk.qs[4 * ib] | static_cast<uint32_t>(blk.qs[4 * ib + 1]) << 16;
      const uint32_t aux = blk.qs[4 * ib + 2] | static_cast<uint32_t>(blk.qs[4 * ib + 3]) << 16;
      for (int l = 0; l < 4; ++l) put8(kIq2xxsGrid[(idx >> (8 * l)) & 0xFF], iq2_signs(aux >> (7 * l)), out.q + 32 * b + 8 * l);
      out.s0[b] = iq2_scale(d, static_cast<int>(aux >> 28));
    }
  }
}

void decode_iq2_xs(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockIQ2_XS>(row, sb);
    const float d = f16_to_f32(blk.d);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      for (int l = 0; l < 4; ++l) {
        const uint16_t q = blk.qs[4 * ib + l];
        put8(kIq2xsGrid[q & 511], iq2_signs(q >> 9), out.q + 32 * b + 8 * l);
      }
      out.s0[b] = iq2_scale(d, blk.scales[ib] & 0xF);
      out.s1[b] = iq2_scale(d, blk.scales[ib] >> 4);
    }
  }
}

void decode_iq2_s(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockIQ2_S>(row, sb);
    const float d = f16_to_f32(blk.d);
    const uint8_t* signs = blk.qs + kQK_K / 8;
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      for (int l = 0; l < 4; ++l) {
        const uint32_t index = blk.qs[4 * ib + l] | ((static_cast<uint32_t>(blk.qh[ib]) << (8 - 2 * l)) & 0x300);
        put8(kIq2sGrid[index], signs[4 * ib + l], out.q + 32 * b + 8 * l);
      }
      out.s0[b] = iq2_scale(d, blk.scales[ib] & 0xF);
      out.s1[b] = iq2_scale(d, blk.scales[ib] >> 4);
    }
  }
}

void decode_iq3_xxs(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockIQ3_XXS>(row, sb);
    const float d = f16_to_f32(blk.d);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint32_t aux = le32(blk.qs + kQK_K / 4 + 4 * ib);
      const uint8_t* qs = blk.qs + 8 * ib;
      for (int l = 0; l < 4; ++l)
        put4x2(kIq3xxsGrid[qs[2 * l]], kIq3xxsGrid[qs[2 * l + 1]], iq2_signs(aux >> (7 * l)), out.q + 32 * b + 8 * l);
      out.s0[b] = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
    }
  }
}

void decode_iq3_s(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockIQ3_S>(row, sb);
    const float d = f16_to_f32(blk.d);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint8_t* qs = blk.qs + 8 * ib;
      const uint32_t qh = blk.qh[ib];
      for (int l = 0; l < 4; ++l) {
        const uint32_t i0 = qs[2 * l] | ((qh << (8 - 2 * l)) & 256), i1 = qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
        put4x2(kIq3sGrid[i0], kIq3sGrid[i1], blk.signs[4 * ib + l], out.q + 32 * b + 8 * l);
      }
      out.s0[b] = d * static_cast<float>(1 + 2 * ((blk.scales[ib / 2] >> (4 * (ib % 2))) & 0xF));
    }
  }
}

void decode_iq1_s(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockIQ1_S>(row, sb);
    const float d = f16_to_f32(blk.d);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint32_t qh = blk.qh[ib];
      for (int l = 0; l < 4; ++l)
        put_iq1(kIq1sGrid[blk.qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)], qh & 0x8000, out.q + 32 * b + 8 * l);
      out.s0[b] = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1) * kIq1Delta;
    }
  }
}

void decode_iq1_m(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockIQ1_M>(row, sb);
    uint16_t sc[4];
    for (int k = 0; k < 4; ++k) sc[k] = static_cast<uint16_t>(blk.scales[2 * k] | (blk.scales[2 * k + 1] << 8));
    const auto d16 = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000));
    const float d = f16_to_f32(d16);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      for (int l = 0; l < 4; ++l) {
        const uint32_t h = blk.qh[2 * ib + l / 2] >> (4 * (l % 2));
        put_iq1(kIq1sGrid[blk.qs[4 * ib + l] | ((h & 7) << 8)], h & 0x08, out.q + 32 * b + 8 * l);
      }
      out.s0[b] = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1) * kIq1Delta;
      out.s1[b] = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1) * kIq1Delta;
    }
  }
}

}  // namespace dseek::kernels
