// AVX-512 decoders of the i-quant grid types (iq2_xxs, iq2_xs, iq2_s,
// iq3_xxs, iq3_s, iq1_s, iq1_m): the same integers and scales as
// kernels/int8_decode/decode_grid.cpp. A 32-block is four 8-byte grid entries
// in one register; its 32 sign bits (bit j of sign byte l negates value
// 8l + j) are a byte mask, so the signs cost one masked subtraction.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/iq_blocks.h"
#include "core/quant/iq_grids.h"
#include "kernels/cpu/int8_decode_simd.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

inline __m256i entries4(uint64_t e0, uint64_t e1, uint64_t e2, uint64_t e3) {
  return _mm256_set_epi64x(static_cast<int64_t>(e3), static_cast<int64_t>(e2), static_cast<int64_t>(e1), static_cast<int64_t>(e0));
}

inline uint64_t pair4(uint32_t a, uint32_t b) { return static_cast<uint64_t>(a) | static_cast<uint64_t>(b) << 32; }

inline void store_signed(int8_t* q, __m256i values, uint32_t signs) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_mask_sub_epi8(values, signs, _mm256_setzero_si256(), values));
}

// The sign mask of four 7-bit sign groups of `aux` (each completed to even parity).
inline uint32_t iq2_sign_mask(uint32_t aux) {
  uint32_t m = 0;
  for (int l = 0; l < 4; ++l) m |= static_cast<uint32_t>(iq2_signs(aux >> (7 * l))) << (8 * l);
  return m;
}

float iq2_scale(float d, int s) { return d * (0.5f + static_cast<float>(s)) * 0.25f; }

void decode_iq2_xxs_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockIQ2_XXS>(row, sb);
    const float d = f16_to_f32(u16_at(blk + offsetof(BlockIQ2_XXS, d)));
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint8_t* qs = blk + offsetof(BlockIQ2_XXS, qs) + 8 * ib;  // grid indices, then signs and scale
      const uint32_t idx = u32_at(qs), aux = u32_at(qs + 4);
      store_signed(out.q + 32 * b,
                   entries4(kIq2xxsGrid[idx & 0xFF], kIq2xxsGrid[(idx >> 8) & 0xFF], kIq2xxsGrid[(idx >> 16) & 0xFF], kIq2xxsGrid[idx >> 24]),
                   iq2_sign_mask(aux));
      out.s0[b] = iq2_scale(d, static_cast<int>(aux >> 28));
    }
  }
}

void decode_iq2_xs_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockIQ2_XS>(row, sb);
    const float d = f16_to_f32(u16_at(blk + offsetof(BlockIQ2_XS, d)));
    const uint8_t* scales = blk + offsetof(BlockIQ2_XS, scales);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      uint16_t qs[4];
      uint32_t signs = 0;
      for (int l = 0; l < 4; ++l) {
        qs[l] = u16_at(blk + offsetof(BlockIQ2_XS, qs) + 8 * ib + 2 * l);
        signs |= static_cast<uint32_t>(iq2_signs(qs[l] >> 9)) << (8 * l);
      }
      store_signed(out.q + 32 * b, entries4(kIq2xsGrid[qs[0] & 511], kIq2xsGrid[qs[1] & 511], kIq2xsGrid[qs[2] & 511], kIq2xsGrid[qs[3] & 511]),
                   signs);
      out.s0[b] = iq2_scale(d, scales[ib] & 0xF);
      out.s1[b] = iq2_scale(d, scales[ib] >> 4);
    }
  }
}

void decode_iq2_s_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockIQ2_S>(row, sb);
    const float d = f16_to_f32(u16_at(blk + offsetof(BlockIQ2_S, d)));
    const uint8_t* signs = blk + offsetof(BlockIQ2_S, qs) + kQK_K / 8;
    const uint8_t* scales = blk + offsetof(BlockIQ2_S, scales);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint32_t qh = blk[offsetof(BlockIQ2_S, qh) + ib];
      const uint8_t* qs = blk + offsetof(BlockIQ2_S, qs) + 4 * ib;
      store_signed(out.q + 32 * b,
                   entries4(kIq2sGrid[qs[0] | ((qh << 8) & 0x300)], kIq2sGrid[qs[1] | ((qh << 6) & 0x300)],
                            kIq2sGrid[qs[2] | ((qh << 4) & 0x300)], kIq2sGrid[qs[3] | ((qh << 2) & 0x300)]),
                   u32_at(signs + 4 * ib));
      out.s0[b] = iq2_scale(d, scales[ib] & 0xF);
      out.s1[b] = iq2_scale(d, scales[ib] >> 4);
    }
  }
}

void decode_iq3_xxs_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockIQ3_XXS>(row, sb);
    const float d = f16_to_f32(u16_at(blk + offsetof(BlockIQ3_XXS, d)));
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint32_t aux = u32_at(blk + offsetof(BlockIQ3_XXS, qs) + kQK_K / 4 + 4 * ib);
      const uint8_t* qs = blk + offsetof(BlockIQ3_XXS, qs) + 8 * ib;
      store_signed(out.q + 32 * b,
                   entries4(pair4(kIq3xxsGrid[qs[0]], kIq3xxsGrid[qs[1]]), pair4(kIq3xxsGrid[qs[2]], kIq3xxsGrid[qs[3]]),
                            pair4(kIq3xxsGrid[qs[4]], kIq3xxsGrid[qs[5]]), pair4(kIq3xxsGrid[qs[6]], kIq3xxsGrid[qs[7]])),
                   iq2_sign_mask(aux));
      out.s0[b] = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
    }
  }
}

void decode_iq3_s_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockIQ3_S>(row, sb);
    const float d = f16_to_f32(u16_at(blk + offsetof(BlockIQ3_S, d)));
    const uint8_t* scales = blk + offsetof(BlockIQ3_S, scales);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint8_t* qs = blk + offsetof(BlockIQ3_S, qs) + 8 * ib;
      const uint32_t qh = blk[offsetof(BlockIQ3_S, qh) + ib];
      uint64_t e[4];
      for (int l = 0; l < 4; ++l)
        e[l] = pair4(kIq3sGrid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)], kIq3sGrid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)]);
      store_signed(out.q + 32 * b, entries4(e[0], e[1], e[2], e[3]), u32_at(blk + offsetof(BlockIQ3_S, signs) + 4 * ib));
      out.s0[b] = d * static_cast<float>(1 + 2 * ((scales[ib / 2] >> (4 * (ib % 2))) & 0xF));
    }
  }
}

// iq1: 8 * grid value (-1, 0, 1) + 1, then - 2 in the 8-value groups of `negative` (one bit per group).
inline void store_iq1(int8_t* q, __m256i grid, unsigned negative) {
  const __m256i g2 = _mm256_add_epi8(grid, grid), g4 = _mm256_add_epi8(g2, g2);
  const __m256i v = _mm256_add_epi8(_mm256_add_epi8(g4, g4), _mm256_set1_epi8(1));
  uint32_t m = 0;
  for (int l = 0; l < 4; ++l) m |= (negative >> l & 1u) * (0xFFu << (8 * l));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_mask_sub_epi8(v, m, v, _mm256_set1_epi8(2)));
}

void decode_iq1_s_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockIQ1_S>(row, sb);
    const float d = f16_to_f32(u16_at(blk + offsetof(BlockIQ1_S, d)));
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint32_t qh = u16_at(blk + offsetof(BlockIQ1_S, qh) + 2 * ib);
      const uint8_t* qs = blk + offsetof(BlockIQ1_S, qs) + 4 * ib;
      store_iq1(out.q + 32 * b,
                entries4(kIq1sGrid[qs[0] | ((qh & 7) << 8)], kIq1sGrid[qs[1] | (((qh >> 3) & 7) << 8)],
                         kIq1sGrid[qs[2] | (((qh >> 6) & 7) << 8)], kIq1sGrid[qs[3] | (((qh >> 9) & 7) << 8)]),
                qh & 0x8000 ? 0xFu : 0u);
      out.s0[b] = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1) * kIq1Delta;
    }
  }
}

void decode_iq1_m_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockIQ1_M>(row, sb);
    uint16_t sc[4];
    for (int k = 0; k < 4; ++k) sc[k] = u16_at(blk + offsetof(BlockIQ1_M, scales) + 2 * k);
    const auto d16 = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000));
    const float d = f16_to_f32(d16);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const uint32_t h = u16_at(blk + offsetof(BlockIQ1_M, qh) + 2 * ib);  // a nibble per 8 values
      const uint8_t* qs = blk + offsetof(BlockIQ1_M, qs) + 4 * ib;
      const unsigned negative = (h >> 3 & 1) | (h >> 6 & 2) | (h >> 9 & 4) | (h >> 12 & 8);
      store_iq1(out.q + 32 * b,
                entries4(kIq1sGrid[qs[0] | ((h & 7) << 8)], kIq1sGrid[qs[1] | (((h >> 4) & 7) << 8)],
                         kIq1sGrid[qs[2] | (((h >> 8) & 7) << 8)], kIq1sGrid[qs[3] | (((h >> 12) & 7) << 8)]),
                negative);
      out.s0[b] = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1) * kIq1Delta;
      out.s1[b] = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1) * kIq1Delta;
    }
  }
}

}  // namespace

void add_grid_decoders_avx512(PerDType<DecodeRowFn>& t) {
  t[DType::kIQ2_XXS] = decode_iq2_xxs_avx512;
  t[DType::kIQ2_XS] = decode_iq2_xs_avx512;
  t[DType::kIQ2_S] = decode_iq2_s_avx512;
  t[DType::kIQ3_XXS] = decode_iq3_xxs_avx512;
  t[DType::kIQ3_S] = decode_iq3_s_avx512;
  t[DType::kIQ1_S] = decode_iq1_s_avx512;
  t[DType::kIQ1_M] = decode_iq1_m_avx512;
}

}  // namespace dseek::kernels
