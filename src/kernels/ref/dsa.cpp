// Scalar references of DeepSeek-V3.2's lightning-indexer kernels (kernels.h,
// "Sparse attention"). Facts from DeepSeek-V3.2-Exp's inference/kernel.py
// (act_quant with scale_fmt "ue8m0", fp8_index) and inference/model.py
// (rotate_activation), summarised in DEEPSEEK_NOTES.md "V3.2 sparse attention".
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

constexpr float kFp8Max = 448.0f;  // the largest finite E4M3 ("fn") value

std::array<float, 256> make_fp8_table() {
  std::array<float, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const int e = (c >> 3) & 15, m = c & 7;
    // e == 0: subnormal m·2^-9; otherwise (1 + m/8)·2^(e-7). 0x7F / 0xFF are NaN, never produced.
    float v = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
    if ((c & 0x7F) == 0x7F) v = std::nanf("");
    t[static_cast<size_t>(c)] = c & 0x80 ? -v : v;
  }
  return t;
}


}  // namespace

// 2^ceil(log2(x)) for a positive normal float, read off its bits as kernel.py's
// fast_round_scale does (exponent, plus one unless the mantissa is zero).
float ue8m0_scale(float amax) {
  const float x = std::max(amax, 1e-4f) * (1.0f / kFp8Max);
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  const int e = static_cast<int>((bits >> 23) & 0xFF) - 127 + ((bits & 0x7FFFFF) != 0 ? 1 : 0);
  return std::ldexp(1.0f, e);
}

const std::array<float, 256>& fp8_table() {
  static const std::array<float, 256> table = make_fp8_table();
  return table;
}

void hadamard_rotate_ref(float* x, int64_t n) {
  // In-place butterflies give the Sylvester matrix H_{2m} = [[H_m, H_m], [H_m, -H_m]] in natural order.
  for (int64_t h = 1; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  for (int64_t i = 0; i < n; ++i) x[i] *= scale;
}

uint8_t fp8_e4m3_from_float_ref(float x) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float a = std::min(std::fabs(x), kFp8Max);  // act_quant clamps to ±448 before the cast
  if (a < 0x1p-6f) return static_cast<uint8_t>(sign | static_cast<int>(std::nearbyint(a * 0x1p9f)));  // subnormals (8 rounds up to the smallest normal)
  int k = 0;
  std::frexp(a, &k);  // a = f·2^k, f in [0.5, 1): the exponent is k - 1
  int e = k - 1;
  int m = static_cast<int>(std::nearbyint((std::ldexp(a, -e) - 1.0f) * 8.0f));  // round to nearest even
  if (m == 8) m = 0, ++e;
  return static_cast<uint8_t>(sign | ((e + 7) << 3) | m);
}

float fp8_e4m3_to_float_ref(uint8_t v) { return fp8_table()[v]; }

float quantize_fp8_block_ue8m0_ref(const float* x, int64_t n, uint8_t* q) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = ue8m0_scale(amax);
  for (int64_t i = 0; i < n; ++i) q[i] = fp8_e4m3_from_float_ref(x[i] / scale);  // exact: scale is a power of two
  return scale;
}

void dsa_index_scores_ref(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys,
                          int64_t n_keys, float* out) {
  const std::array<float, 256>& lut = fp8_table();
  for (int64_t s = 0; s < n_keys; ++s) {
    const uint8_t* k = reinterpret_cast<const uint8_t*>(keys[s] + 1);
    float total = 0.0f;
    for (int64_t h = 0; h < n_head; ++h) {
      const float* qh = q + h * dim;
      float logit = 0.0f;
      for (int64_t d = 0; d < dim; ++d) logit += qh[d] * lut[k[d]];
      total += std::max(logit, 0.0f) * w[h];
    }
    out[s] = total * keys[s][0];
  }
}

void top_k_positions_ref(const float* scores, int64_t n, int64_t k, int32_t* out, int32_t* scratch) {
  for (int64_t i = 0; i < n; ++i) scratch[i] = static_cast<int32_t>(i);
  // Higher score first; of equal scores the earlier position (a fixed rule, where torch.topk leaves ties open).
  auto better = [scores](int32_t a, int32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); };
  k = std::min(k, n);
  std::nth_element(scratch, scratch + k - 1, scratch + n, better);
  std::copy(scratch, scratch + k, out);
  std::sort(out, out + k);  // ascending positions: attention then reads keys in cache order
}

}  // namespace dseek::kernels
