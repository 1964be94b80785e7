// AVX-512 decoders of the classic 32-blocks (q4_1, q5_0, q5_1), the k-quants
// q2_K / q3_K, the iq4 pair, mxfp4 and the ternary types: the same integers
// and scales as kernels/int8_decode/decode_simple.cpp (a test compares every
// array), a register per block or plane instead of a loop per element. The
// scales are the scalar decoder's very float expressions (one rounding each).
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "core/quant/iq_blocks.h"
#include "kernels/cpu/int8_decode_simd.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

// A q4_0-ordered block's 32 nibbles: low nibbles of the 16 bytes, then high.
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), m = _mm_set1_epi8(0xF);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(b, m)), _mm_and_si128(_mm_srli_epi16(b, 4), m), 1);
}

// The nibbles through a 16-entry signed table.
inline __m256i lookup16(__m256i table, __m256i nibbles) { return _mm256_shuffle_epi8(table, nibbles); }

inline __m256i table16(const int8_t* values) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values)));
}

inline void store32(int8_t* q, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), v); }

// Byte j is 16 where bit j of the little-endian qh is set (q5's fifth bit).
inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return _mm256_maskz_set1_epi8(v, 16);
}

// The 2-bit plane `plane` of 32 bytes.
inline __m256i plane2(__m256i bytes, int plane) {
  return _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * plane), _mm256_set1_epi8(3));
}

void offset_min(const DecodedRow& out, int64_t b, float m) {
  out.mi[2 * b] = out.mi[2 * b + 1] = 1;
  out.ms[b] = -m;
}

void decode_q4_1_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const uint8_t* blk = block_at<BlockQ4_1>(row, b);
    store32(out.q + 32 * b, nibbles32(blk + offsetof(BlockQ4_1, qs)));
    out.s0[b] = f16_to_f32(u16_at(blk + offsetof(BlockQ4_1, d)));
    offset_min(out, b, f16_to_f32(u16_at(blk + offsetof(BlockQ4_1, m))));
  }
}

void decode_q5_0_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const uint8_t* blk = block_at<BlockQ5_0>(row, b);
    const __m256i q = _mm256_or_si256(nibbles32(blk + offsetof(BlockQ5_0, qs)), fifth_bits(blk + offsetof(BlockQ5_0, qh)));
    store32(out.q + 32 * b, _mm256_sub_epi8(q, _mm256_set1_epi8(16)));
    out.s0[b] = f16_to_f32(u16_at(blk + offsetof(BlockQ5_0, d)));
  }
}

void decode_q5_1_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const uint8_t* blk = block_at<BlockQ5_1>(row, b);
    store32(out.q + 32 * b, _mm256_or_si256(nibbles32(blk + offsetof(BlockQ5_1, qs)), fifth_bits(blk + offsetof(BlockQ5_1, qh))));
    out.s0[b] = f16_to_f32(u16_at(blk + offsetof(BlockQ5_1, d)));
    offset_min(out, b, f16_to_f32(u16_at(blk + offsetof(BlockQ5_1, m))));
  }
}

void decode_iq4_nl_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  const __m256i values = table16(kIq4nlValues);
  for (int64_t b = 0; b < cols / 32; ++b) {
    const uint8_t* blk = block_at<BlockIQ4_NL>(row, b);
    store32(out.q + 32 * b, lookup16(values, nibbles32(blk + offsetof(BlockIQ4_NL, qs))));
    out.s0[b] = f16_to_f32(u16_at(blk + offsetof(BlockIQ4_NL, d)));
  }
}

void decode_mxfp4_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  static constexpr int8_t kDoubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  const __m256i values = table16(kDoubled);
  for (int64_t b = 0; b < cols / 32; ++b) {
    const uint8_t* blk = block_at<BlockMxfp4>(row, b);
    store32(out.q + 32 * b, lookup16(values, nibbles32(blk + offsetof(BlockMxfp4, qs))));
    out.s0[b] = e8m0_to_float(blk[offsetof(BlockMxfp4, e)]) * 0.5f;
  }
}

void decode_iq4_xs_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  const __m256i values = table16(kIq4nlValues);
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockIQ4_XS>(row, sb);
    const float d = f16_to_f32(u16_at(blk + offsetof(BlockIQ4_XS, d)));
    const uint16_t scales_h = u16_at(blk + offsetof(BlockIQ4_XS, scales_h));
    const uint8_t* scales_l = blk + offsetof(BlockIQ4_XS, scales_l);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
      store32(out.q + 32 * b, lookup16(values, nibbles32(blk + offsetof(BlockIQ4_XS, qs) + 16 * ib)));
      out.s0[b] = d * static_cast<float>(ls - 32);
    }
  }
}

// Stores 16 sub-block scales as s0 (even lanes) and s1 (odd lanes) of 8 blocks.
inline void store_half_scales(const DecodedRow& out, int64_t sb, __m512 s) {
  const __m512i even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 15, 13, 11, 9, 7, 5, 3, 1);
  _mm256_storeu_ps(out.s0 + 8 * sb, _mm512_castps512_ps256(_mm512_permutexvar_ps(even, s)));
  _mm256_storeu_ps(out.s1 + 8 * sb, _mm512_castps512_ps256(_mm512_permutexvar_ps(odd, s)));
}

// q2_K / q3_K: block 4*half + plane of a super-block is the 2-bit plane
// `plane` of the 32 bytes qs[32*half ..]; its halves are sub-blocks 2b, 2b+1.
void decode_q2_k_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockQ2_K>(row, sb);
    for (int half = 0; half < 2; ++half) {
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(BlockQ2_K, qs) + 32 * half));
      for (int plane = 0; plane < 4; ++plane) store32(out.q + 32 * (8 * sb + 4 * half + plane), plane2(bytes, plane));
    }
    // Sub-block is: scale d * (sc & 0xF) into s0 / s1 of block is / 2, min weight sc >> 4 at mi[is].
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + offsetof(BlockQ2_K, scales))));
    const __m512 s = _mm512_mul_ps(_mm512_set1_ps(f16_to_f32(u16_at(blk + offsetof(BlockQ2_K, d)))), _mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(0xF))));
    store_half_scales(out, sb, s);
    _mm512_storeu_si512(out.mi + 16 * sb, _mm512_srli_epi32(sc, 4));
    _mm256_storeu_ps(out.ms + 8 * sb, _mm256_set1_ps(f16_to_f32(u16_at(blk + offsetof(BlockQ2_K, dmin)))));
  }
}

// q3_K's 16 6-bit scales minus 32, lane is: low 4 bits in nibble is / 8 of
// byte is % 8, high 2 in bits 2 * (is / 4) of byte 8 + is % 4. The masked
// load stays inside the 12 bytes (the row's last block ends 2 bytes later).
inline __m512i q3_k_scales(const uint8_t* scales) {
  const __m512i v = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(0xFFF, scales));
  const __m512i low_idx = _mm512_set_epi32(7, 6, 5, 4, 3, 2, 1, 0, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i low_shift = _mm512_set_epi32(4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i high_idx = _mm512_set_epi32(11, 10, 9, 8, 11, 10, 9, 8, 11, 10, 9, 8, 11, 10, 9, 8);
  const __m512i high_shift = _mm512_set_epi32(6, 6, 6, 6, 4, 4, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0);
  const __m512i low = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(low_idx, v), low_shift), _mm512_set1_epi32(0xF));
  const __m512i high = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(high_idx, v), high_shift), _mm512_set1_epi32(3));
  return _mm512_sub_epi32(_mm512_or_si512(low, _mm512_slli_epi32(high, 4)), _mm512_set1_epi32(32));
}

void decode_q3_k_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockQ3_K>(row, sb);
    const __m256i hmask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(BlockQ3_K, hmask)));
    for (int half = 0; half < 2; ++half) {
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(BlockQ3_K, qs) + 32 * half));
      for (int plane = 0; plane < 4; ++plane) {
        const int k = 4 * half + plane;  // the block's bit in hmask; clear means q - 4
        const __mmask32 high = _mm256_test_epi8_mask(hmask, _mm256_set1_epi8(static_cast<char>(1 << k)));
        const __m256i q = plane2(bytes, plane);
        store32(out.q + 32 * (8 * sb + k), _mm256_mask_sub_epi8(q, static_cast<__mmask32>(~high), q, _mm256_set1_epi8(4)));
      }
    }
    const __m512 s = _mm512_mul_ps(_mm512_set1_ps(f16_to_f32(u16_at(blk + offsetof(BlockQ3_K, d)))),
                                   _mm512_cvtepi32_ps(q3_k_scales(blk + offsetof(BlockQ3_K, scales))));
    store_half_scales(out, sb, s);
  }
}

// tq1_0: digit n of each byte (the byte times 3^n mod 256, times 3, over 256), minus 1.
inline __m256i ternary_digits32(__m512i bytes16, int pow3) {
  const __m512i q = _mm512_and_si512(_mm512_mullo_epi16(bytes16, _mm512_set1_epi16(static_cast<int16_t>(pow3))), _mm512_set1_epi16(0xFF));
  const __m512i t = _mm512_srli_epi16(_mm512_mullo_epi16(q, _mm512_set1_epi16(3)), 8);
  return _mm512_cvtepi16_epi8(_mm512_sub_epi16(t, _mm512_set1_epi16(1)));
}

void decode_tq1_0_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  static constexpr int kPow3[5] = {1, 3, 9, 27, 81};
  constexpr int kQs = sizeof(BlockTQ1_0::qs), kQh = sizeof(BlockTQ1_0::qh);
  static_assert(kQs == 48 && kQh == 4);
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockTQ1_0>(row, sb);
    const uint8_t* qs = blk + offsetof(BlockTQ1_0, qs);
    int8_t* q = out.q + kQK_K * sb;
    const __m512i run32 = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)));
    // The 16-byte run and qh as one 20-byte run: digits of bytes 32..47 (5 each), then of qh (4 each).
    uint32_t qh;
    std::memcpy(&qh, blk + offsetof(BlockTQ1_0, qh), kQh);
    const __m256i tail = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 32))), _mm_cvtsi32_si128(static_cast<int>(qh)), 1);
    const __m512i run20 = _mm512_cvtepu8_epi16(tail);
    for (int n = 0; n < 5; ++n) store32(q + 32 * n, ternary_digits32(run32, kPow3[n]));
    for (int n = 0; n < 5; ++n) {
      const __m256i digits = ternary_digits32(run20, kPow3[n]);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 160 + 16 * n), _mm256_castsi256_si128(digits));
      if (n < 4) {
        const auto four = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm256_extracti128_si256(digits, 1)));
        std::memcpy(q + 240 + kQh * n, &four, kQh);
      }
    }
    _mm256_storeu_ps(out.s0 + 8 * sb, _mm256_set1_ps(f16_to_f32(u16_at(blk + offsetof(BlockTQ1_0, d)))));
  }
}

void decode_tq2_0_avx512(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const uint8_t* blk = block_at<BlockTQ2_0>(row, sb);
    int8_t* q = out.q + kQK_K * sb;
    for (int j = 0; j < 2; ++j) {
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(BlockTQ2_0, qs) + 32 * j));
      for (int l = 0; l < 4; ++l) store32(q + 32 * (4 * j + l), _mm256_sub_epi8(plane2(bytes, l), _mm256_set1_epi8(1)));
    }
    _mm256_storeu_ps(out.s0 + 8 * sb, _mm256_set1_ps(f16_to_f32(u16_at(blk + offsetof(BlockTQ2_0, d)))));
  }
}

}  // namespace

void add_simple_decoders_avx512(PerDType<DecodeRowFn>& t) {
  t[DType::kQ4_1] = decode_q4_1_avx512;
  t[DType::kQ5_0] = decode_q5_0_avx512;
  t[DType::kQ5_1] = decode_q5_1_avx512;
  t[DType::kIQ4_NL] = decode_iq4_nl_avx512;
  t[DType::kMXFP4] = decode_mxfp4_avx512;
  t[DType::kIQ4_XS] = decode_iq4_xs_avx512;
  t[DType::kQ2_K] = decode_q2_k_avx512;
  t[DType::kQ3_K] = decode_q3_k_avx512;
  t[DType::kTQ1_0] = decode_tq1_0_avx512;
  t[DType::kTQ2_0] = decode_tq2_0_avx512;
}

const PerDType<DecodeRowFn>& decoders_avx512() {
  static const PerDType<DecodeRowFn> table = [] {
    PerDType<DecodeRowFn> t;
    add_simple_decoders_avx512(t);
    add_grid_decoders_avx512(t);
    return t;
  }();
  return table;
}

}  // namespace dseek::kernels
