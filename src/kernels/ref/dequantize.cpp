// Scalar reference (de)quantisation for every stored dtype. Dequantisation is
// bit-exact with ggml's reference (the block formats are ggml's). Quantisation
// produces valid blocks by a simple max-abs / min-max scheme: good enough for
// random test models; not tuned for accuracy like ggml's k-quant search.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/float_convert.h"
#include "core/quant/blocks.h"
#include "kernels/kernels.h"
#include "kernels/ref/dequant_types.h"

namespace dseek::kernels {
namespace {

// The 6-bit scale and min of sub-block j (0..7) in a q4_K/q5_K `scales` array.
void k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void k_set_scale_min(int j, uint8_t* q, uint8_t sc, uint8_t m) {
  if (j < 4) {
    q[j] = (q[j] & 0xC0) | sc;
    q[j + 4] = (q[j + 4] & 0xC0) | m;
  } else {
    q[j + 4] = static_cast<uint8_t>((sc & 0xF) | ((m & 0xF) << 4));
    q[j - 4] = static_cast<uint8_t>((q[j - 4] & 0x3F) | ((sc >> 4) << 6));
    q[j] = static_cast<uint8_t>((q[j] & 0x3F) | ((m >> 4) << 6));
  }
}

// The reference path accepts sources at any alignment (safetensors offsets
// need not be aligned): blocks and scalars are loaded through memcpy.
template <class Block>
Block load_block(const void* src, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const std::byte*>(src) + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

template <class T>
T load(const void* src, int64_t i) {
  T x;
  std::memcpy(&x, static_cast<const std::byte*>(src) + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return x;
}

void dequant_q4_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const BlockQ4_0 bi = load_block<BlockQ4_0>(src, i);
    const float d = f16_to_f32(bi.d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = static_cast<float>((bi.qs[j] & 0xF) - 8) * d;
      y[j + kQK4_0 / 2] = static_cast<float>((bi.qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q8_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const BlockQ8_0 bi = load_block<BlockQ8_0>(src, i);
    const float d = f16_to_f32(bi.d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = static_cast<float>(bi.qs[j]) * d;
  }
}

void dequant_q4_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ4_K bi = load_block<BlockQ4_K>(src, i);
    const float d = f16_to_f32(bi.d), dmin = f16_to_f32(bi.dmin);
    const uint8_t* q = bi.qs;
    for (int j = 0; j < kQK_K; j += 64, q += 32) {
      uint8_t sc, m;
      k_scale_min(j / 32, bi.scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      k_scale_min(j / 32 + 1, bi.scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequant_q5_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ5_K bi = load_block<BlockQ5_K>(src, i);
    const float d = f16_to_f32(bi.d), dmin = f16_to_f32(bi.dmin);
    const uint8_t* ql = bi.qs;
    const uint8_t* qh = bi.qh;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < kQK_K; j += 64, ql += 32, u1 <<= 2, u2 <<= 2) {
      uint8_t sc, m;
      k_scale_min(j / 32, bi.scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      k_scale_min(j / 32 + 1, bi.scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

void dequant_q6_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ6_K bi = load_block<BlockQ6_K>(src, i);
    const float d = f16_to_f32(bi.d);
    const uint8_t* ql = bi.ql;
    const uint8_t* qh = bi.qh;
    const int8_t* sc = bi.scales;
    for (int n = 0; n < kQK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * static_cast<float>(q1);
        y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
      }
    }
  }
}

void quant_q4_0(const float* x, BlockQ4_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    float amax = 0, vmax = 0;  // value with the largest magnitude, sign kept
    for (int j = 0; j < kQK4_0; ++j)
      if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), vmax = x[j];
    const float d = vmax / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + kQK4_0 / 2] * id + 8.5f));
      b[i].qs[j] = static_cast<uint8_t>(std::max(0, q0) | (std::max(0, q1) << 4));
    }
  }
}

void quant_q8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(std::lround(x[j] * id));
  }
}

// Shared by q4_K (levels 15) and q5_K (levels 31): per 32-element sub-block an
// affine map x ~ scale*q - min, with scales and mins stored as 6-bit multiples
// of the super-block's d and dmin. Fills d/dmin/scales and returns q per element.
void quant_k_affine(const float* x, int levels, uint16_t* d_out, uint16_t* dmin_out,
                    uint8_t* scales, uint8_t* q) {
  float sub_scale[8], sub_min[8];
  for (int j = 0; j < 8; ++j) {
    float lo = 0, hi = 0;
    for (int l = 0; l < 32; ++l) lo = std::min(lo, x[32 * j + l]), hi = std::max(hi, x[32 * j + l]);
    sub_min[j] = -lo;  // stored as a positive number subtracted
    sub_scale[j] = (hi - lo) / static_cast<float>(levels);
  }
  const float max_scale = *std::max_element(sub_scale, sub_scale + 8);
  const float max_min = *std::max_element(sub_min, sub_min + 8);
  const uint16_t d16 = f32_to_f16(max_scale / 63.0f), dmin16 = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  *d_out = d16;
  *dmin_out = dmin16;
  std::memset(scales, 0, kKScaleBytes);
  for (int j = 0; j < 8; ++j) {
    const int sc = d > 0 ? std::clamp(static_cast<int>(std::lround(sub_scale[j] / d)), 0, 63) : 0;
    const int m = dmin > 0 ? std::clamp(static_cast<int>(std::ceil(sub_min[j] / dmin)), 0, 63) : 0;
    k_set_scale_min(j, scales, static_cast<uint8_t>(sc), static_cast<uint8_t>(m));
    const float step = d * static_cast<float>(sc), offset = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const int v = step > 0 ? static_cast<int>(std::lround((x[32 * j + l] + offset) / step)) : 0;
      q[32 * j + l] = static_cast<uint8_t>(std::clamp(v, 0, levels));
    }
  }
}

void quant_q4_k(const float* x, BlockQ4_K* b, int64_t nb) {
  uint8_t q[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    quant_k_affine(x, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
    for (int j = 0; j < kQK_K; j += 64)
      for (int l = 0; l < 32; ++l)
        b[i].qs[j / 2 + l] = static_cast<uint8_t>(q[j + l] | (q[j + 32 + l] << 4));
  }
}

void quant_q5_k(const float* x, BlockQ5_K* b, int64_t nb) {
  uint8_t q[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    quant_k_affine(x, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
    std::memset(b[i].qh, 0, sizeof b[i].qh);
    for (int j = 0, shift = 0; j < kQK_K; j += 64, shift += 2) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = q[j + l], hi = q[j + 32 + l];
        b[i].qs[j / 2 + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        b[i].qh[l] |= static_cast<uint8_t>(((lo >> 4) << shift) | ((hi >> 4) << (shift + 1)));
      }
    }
  }
}

void quant_q6_k(const float* x, BlockQ6_K* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float sub_scale[16];
    float max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
      float amax = 0;
      for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
      sub_scale[j] = amax / 31.0f;
      max_abs_scale = std::max(max_abs_scale, sub_scale[j]);
    }
    const uint16_t d16 = f32_to_f16(max_abs_scale / 127.0f);
    const float d = f16_to_f32(d16);
    b[i].d = d16;
    int q[kQK_K];
    for (int j = 0; j < 16; ++j) {
      const int sc = d > 0 ? std::clamp(static_cast<int>(std::lround(sub_scale[j] / d)), 0, 127) : 0;
      b[i].scales[j] = static_cast<int8_t>(sc);
      const float step = d * static_cast<float>(sc);
      for (int l = 0; l < 16; ++l) {
        const int v = step > 0 ? static_cast<int>(std::lround(x[16 * j + l] / step)) : 0;
        q[16 * j + l] = std::clamp(v, -32, 31) + 32;
      }
    }
    std::memset(b[i].qh, 0, sizeof b[i].qh);
    for (int n = 0; n < kQK_K; n += 128) {
      uint8_t* ql = b[i].ql + n / 2;
      uint8_t* qh = b[i].qh + n / 4;
      for (int l = 0; l < 32; ++l) {
        const int q1 = q[n + l], q2 = q[n + l + 32], q3 = q[n + l + 64], q4 = q[n + l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const int64_t nb = n / dtype_traits(t).block_size;
  switch (t) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::kF64:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<double>(src, i));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load<uint16_t>(src, i));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load<uint16_t>(src, i));
      return;
    case DType::kF8E4M3: {
      const auto* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp8_e4m3_to_f32(s[i]);
      return;
    }
    case DType::kI8: case DType::kU8: case DType::kBool: case DType::kI16: case DType::kI32: case DType::kI64: {
      for (int64_t i = 0; i < n; ++i) {
        switch (t) {
          case DType::kI8: dst[i] = static_cast<const int8_t*>(src)[i]; break;
          case DType::kI16: dst[i] = load<int16_t>(src, i); break;
          case DType::kI32: dst[i] = static_cast<float>(load<int32_t>(src, i)); break;
          case DType::kI64: dst[i] = static_cast<float>(load<int64_t>(src, i)); break;
          default: dst[i] = static_cast<const uint8_t*>(src)[i]; break;
        }
      }
      return;
    }
    case DType::kQ4_0: dequant_q4_0(src, dst, nb); return;
    case DType::kQ8_0: dequant_q8_0(src, dst, nb); return;
    case DType::kQ4_K: dequant_q4_k(src, dst, nb); return;
    case DType::kQ5_K: dequant_q5_k(src, dst, nb); return;
    case DType::kQ6_K: dequant_q6_k(src, dst, nb); return;
    case DType::kQ4_1: dequant_q4_1(src, dst, nb); return;
    case DType::kQ5_0: dequant_q5_0(src, dst, nb); return;
    case DType::kQ5_1: dequant_q5_1(src, dst, nb); return;
    case DType::kQ2_K: dequant_q2_k(src, dst, nb); return;
    case DType::kQ3_K: dequant_q3_k(src, dst, nb); return;
    case DType::kIQ4_NL: dequant_iq4_nl(src, dst, nb); return;
    case DType::kIQ4_XS: dequant_iq4_xs(src, dst, nb); return;
    case DType::kIQ3_XXS: dequant_iq3_xxs(src, dst, nb); return;
    case DType::kIQ3_S: dequant_iq3_s(src, dst, nb); return;
    case DType::kIQ2_XXS: dequant_iq2_xxs(src, dst, nb); return;
    case DType::kIQ2_XS: dequant_iq2_xs(src, dst, nb); return;
    case DType::kIQ2_S: dequant_iq2_s(src, dst, nb); return;
    case DType::kIQ1_S: dequant_iq1_s(src, dst, nb); return;
    case DType::kIQ1_M: dequant_iq1_m(src, dst, nb); return;
    case DType::kTQ1_0: dequant_tq1_0(src, dst, nb); return;
    case DType::kTQ2_0: dequant_tq2_0(src, dst, nb); return;
    case DType::kMXFP4: dequant_mxfp4(src, dst, nb); return;
  }
}

bool can_quantize(DType t) {
  switch (t) {
    case DType::kF32: case DType::kF64: case DType::kF16: case DType::kBF16: case DType::kF8E4M3:
    case DType::kI8: case DType::kI16: case DType::kI32: case DType::kI64: case DType::kU8: case DType::kBool:
    case DType::kQ4_0: case DType::kQ8_0: case DType::kQ4_K: case DType::kQ5_K: case DType::kQ6_K:
    case DType::kQ2_K: case DType::kQ3_K: case DType::kIQ4_NL: case DType::kIQ4_XS:
    case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1:
      return true;
    default:
      return false;  // read-only types: dequantised, never written (yet)
  }
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  const int64_t nb = n / dtype_traits(t).block_size;
  switch (t) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::kF64:
      for (int64_t i = 0; i < n; ++i) static_cast<double*>(dst)[i] = src[i];
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_f16(src[i]);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    case DType::kF8E4M3:
      for (int64_t i = 0; i < n; ++i) static_cast<uint8_t*>(dst)[i] = f32_to_fp8_e4m3(src[i]);
      return;
    case DType::kQ4_0: quant_q4_0(src, static_cast<BlockQ4_0*>(dst), nb); return;
    case DType::kQ8_0: quant_q8_0(src, static_cast<BlockQ8_0*>(dst), nb); return;
    case DType::kQ4_K: quant_q4_k(src, static_cast<BlockQ4_K*>(dst), nb); return;
    case DType::kQ5_K: quant_q5_k(src, static_cast<BlockQ5_K*>(dst), nb); return;
    case DType::kQ6_K: quant_q6_k(src, static_cast<BlockQ6_K*>(dst), nb); return;
    case DType::kQ2_K: quant_q2_k(src, dst, nb); return;
    case DType::kQ3_K: quant_q3_k(src, dst, nb); return;
    case DType::kIQ4_NL: quant_iq4_nl(src, dst, nb); return;
    case DType::kIQ4_XS: quant_iq4_xs(src, dst, nb); return;
    case DType::kQ4_1: quant_q4_1(src, dst, nb); return;
    case DType::kQ5_0: quant_q5_0(src, dst, nb); return;
    case DType::kQ5_1: quant_q5_1(src, dst, nb); return;
    case DType::kI8: case DType::kI16: case DType::kI32: case DType::kI64: case DType::kU8: case DType::kBool:
      for (int64_t i = 0; i < n; ++i) {  // integer types: round
        const auto v = static_cast<int64_t>(std::llround(src[i]));
        switch (t) {
          case DType::kI8: static_cast<int8_t*>(dst)[i] = static_cast<int8_t>(v); break;
          case DType::kI16: static_cast<int16_t*>(dst)[i] = static_cast<int16_t>(v); break;
          case DType::kI32: static_cast<int32_t*>(dst)[i] = static_cast<int32_t>(v); break;
          case DType::kI64: static_cast<int64_t*>(dst)[i] = v; break;
          default: static_cast<uint8_t*>(dst)[i] = static_cast<uint8_t>(v); break;
        }
      }
      return;
    default:
      std::abort();  // a read-only type: callers check can_quantize first
  }
}

void dequantize_fp8_block_row(const uint8_t* w, const float* scale_inv, int64_t rows, int64_t cols,
                              int64_t row, float* dst, int64_t block) {
  const int64_t n_col_blocks = (cols + block - 1) / block;
  const float* scales = scale_inv + (row / block) * n_col_blocks;
  const uint8_t* src = w + row * cols;
  for (int64_t c = 0; c < cols; ++c) dst[c] = fp8_e4m3_to_f32(src[c]) * load<float>(scales, c / block);
}

}  // namespace dseek::kernels
