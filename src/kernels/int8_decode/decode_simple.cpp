// Decoders of the classic 32-blocks (q4_1, q5_0, q5_1), the k-quants q2_K /
// q3_K, the iq4 pair, mxfp4 and the ternary types into the decoded-row form
// (decoded_row.h). The integers are the formats' own codes (with their fixed
// offsets applied); the scales are the products ggml's to_float forms, so
// s * q is the dequantised value wherever that product is exact.
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "core/quant/iq_blocks.h"
#include "kernels/int8_decode/decoded_row.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

constexpr int kHalf = 16;

uint32_t fifth_bits(const uint8_t (&qh)[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

// A q4_1 / q5_1 block's offset m as the min term: ms = -m against the block's sum.
void offset_min(const DecodedRow& out, int64_t b, float m) {
  out.mi[2 * b] = out.mi[2 * b + 1] = 1;
  out.ms[b] = -m;
}

// The 4-bit codes of a q4_0-ordered block (low nibbles first) through `value`.
template <class F>
void nibbles(const uint8_t* qs, int8_t* q, F value) {
  for (int j = 0; j < kHalf; ++j) {
    q[j] = value(qs[j] & 0xF, j);
    q[j + kHalf] = value(qs[j] >> 4, j + kHalf);
  }
}

}  // namespace

void decode_q4_1(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const auto blk = load_any_block<BlockQ4_1>(row, b);
    nibbles(blk.qs, out.q + 32 * b, [](int v, int) { return static_cast<int8_t>(v); });
    out.s0[b] = f16_to_f32(blk.d);
    offset_min(out, b, f16_to_f32(blk.m));
  }
}

void decode_q5_0(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const auto blk = load_any_block<BlockQ5_0>(row, b);
    const uint32_t qh = fifth_bits(blk.qh);
    nibbles(blk.qs, out.q + 32 * b, [qh](int v, int j) { return static_cast<int8_t>((v | (((qh >> j) & 1) << 4)) - 16); });
    out.s0[b] = f16_to_f32(blk.d);
  }
}

void decode_q5_1(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const auto blk = load_any_block<BlockQ5_1>(row, b);
    const uint32_t qh = fifth_bits(blk.qh);
    nibbles(blk.qs, out.q + 32 * b, [qh](int v, int j) { return static_cast<int8_t>(v | (((qh >> j) & 1) << 4)); });
    out.s0[b] = f16_to_f32(blk.d);
    offset_min(out, b, f16_to_f32(blk.m));
  }
}

void decode_iq4_nl(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const auto blk = load_any_block<BlockIQ4_NL>(row, b);
    nibbles(blk.qs, out.q + 32 * b, [](int v, int) { return kIq4nlValues[v]; });
    out.s0[b] = f16_to_f32(blk.d);
  }
}

void decode_mxfp4(const std::byte* row, int64_t cols, const DecodedRow& out) {
  // E2M1 codes doubled (0, 0.5, 1, ... 6 -> 0, 1, 2, ... 12), so the scale is 2^(e-127) / 2.
  static constexpr int8_t kDoubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  for (int64_t b = 0; b < cols / 32; ++b) {
    const auto blk = load_any_block<BlockMxfp4>(row, b);
    nibbles(blk.qs, out.q + 32 * b, [](int v, int) { return kDoubled[v]; });
    out.s0[b] = e8m0_to_float(blk.e) * 0.5f;
  }
}

void decode_iq4_xs(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockIQ4_XS>(row, sb);
    const float d = f16_to_f32(blk.d);
    for (int ib = 0; ib < 8; ++ib) {
      const int64_t b = 8 * sb + ib;
      const int ls = ((blk.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((blk.scales_h >> (2 * ib)) & 3) << 4);
      nibbles(blk.qs + 16 * ib, out.q + 32 * b, [](int v, int) { return kIq4nlValues[v]; });
      out.s0[b] = d * static_cast<float>(ls - 32);
    }
  }
}

// q2_K and q3_K: sub-block is (16 elements) = plane `shift` of bytes
// 32*half + 16*part ..; sub-blocks 2k, 2k+1 are the halves of block k.
void decode_q2_k(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockQ2_K>(row, sb);
    const float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
    for (int is = 0; is < 16; ++is) {
      const int64_t b = 8 * sb + is / 2;
      const int half = is / 8, shift = 2 * ((is % 8) / 2), part = is % 2;
      const uint8_t* qs = blk.qs + 32 * half + 16 * part;
      int8_t* q = out.q + 32 * b + 16 * part;
      for (int l = 0; l < 16; ++l) q[l] = static_cast<int8_t>((qs[l] >> shift) & 3);
      (part ? out.s1 : out.s0)[b] = d * static_cast<float>(blk.scales[is] & 0xF);
      out.mi[2 * b + part] = blk.scales[is] >> 4;
      out.ms[b] = dmin;
    }
  }
}

void decode_q3_k(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockQ3_K>(row, sb);
    const float d = f16_to_f32(blk.d);
    for (int is = 0; is < 16; ++is) {
      const int64_t b = 8 * sb + is / 2;
      const int half = is / 8, plane = (is % 8) / 2, part = is % 2;
      const uint8_t mask = static_cast<uint8_t>(1 << (4 * half + plane));
      const int low = (blk.scales[is % 8] >> (4 * (is / 8))) & 0xF, high = (blk.scales[8 + is % 4] >> (2 * (is / 4))) & 3;
      int8_t* q = out.q + 32 * b + 16 * part;
      for (int l = 16 * part; l < 16 * part + 16; ++l)
        *q++ = static_cast<int8_t>(((blk.qs[32 * half + l] >> (2 * plane)) & 3) - ((blk.hmask[l] & mask) ? 0 : 4));
      (part ? out.s1 : out.s0)[b] = d * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

// Ternary: value = d * (t - 1); the codes run in the dequantiser's element order.
void decode_tq1_0(const std::byte* row, int64_t cols, const DecodedRow& out) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  auto digit = [](uint8_t byte, int n) {
    const auto q = static_cast<uint8_t>(byte * kPow3[n]);
    return static_cast<int8_t>(((static_cast<uint16_t>(q) * 3) >> 8) - 1);
  };
  constexpr int kQs = sizeof(BlockTQ1_0::qs), kRun32 = kQs - kQs % 32;
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockTQ1_0>(row, sb);
    int8_t* q = out.q + kQK_K * sb;
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) *q++ = digit(blk.qs[m], n);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < kQs - kRun32; ++m) *q++ = digit(blk.qs[kRun32 + m], n);
    for (int n = 0; n < 4; ++n)
      for (int j = 0; j < static_cast<int>(sizeof blk.qh); ++j) *q++ = digit(blk.qh[j], n);
    for (int ib = 0; ib < 8; ++ib) out.s0[8 * sb + ib] = f16_to_f32(blk.d);
  }
}

void decode_tq2_0(const std::byte* row, int64_t cols, const DecodedRow& out) {
  for (int64_t sb = 0; sb < cols / kQK_K; ++sb) {
    const auto blk = load_any_block<BlockTQ2_0>(row, sb);
    int8_t* q = out.q + kQK_K * sb;
    for (int j = 0; j < static_cast<int>(sizeof blk.qs); j += 32)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m) *q++ = static_cast<int8_t>(((blk.qs[j + m] >> (2 * l)) & 3) - 1);
    for (int ib = 0; ib < 8; ++ib) out.s0[8 * sb + ib] = f16_to_f32(blk.d);
  }
}

}  // namespace dseek::kernels
