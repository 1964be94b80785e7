// Entry points of the lightning-indexer kernels (kernels.h, "Sparse
// attention"). Where the CPU has AVX-512 and the shapes fit, the kernels of
// cpu/dsa_avx512.cpp (the bits of the paths below, see cpu/dsa_kernels.h);
// else the score loop decodes a run of keys to f32 and takes every (key, head)
// product with dot_many (the active ISA's dot, pairwise the bits of dot()), and
// the rest are the scalar references. Top-k is a radix select here (the
// reference's selection exactly, in linear time instead of a sort).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "kernels/cpu/dsa_kernels.h"
#include "kernels/cpu/isa.h"
#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

constexpr int64_t kKeyRun = 16, kMaxDim = 512, kHeadGroup = 64;

bool use_avx512() {
  static const bool yes = cpu_supports(Isa::kAvx512);
  return yes;
}

// out[s] for keys [0, n) (n <= kKeyRun), heads summed in order, as the reference does.
void score_run(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys, int64_t n,
               float* out) {
  const std::array<float, 256>& lut = fp8_table();
  alignas(64) float decoded[kKeyRun * kMaxDim];
  const float* rows[kKeyRun];
  for (int64_t s = 0; s < n; ++s) {
    const uint8_t* k = reinterpret_cast<const uint8_t*>(keys[s] + 1);
    float* row = decoded + s * dim;
    for (int64_t d = 0; d < dim; ++d) row[d] = lut[k[d]];
    rows[s] = row;
    out[s] = 0.0f;
  }
  const float* heads[kHeadGroup];
  float logits[kKeyRun * kHeadGroup];
  for (int64_t h0 = 0; h0 < n_head; h0 += kHeadGroup) {
    const int64_t g = std::min(kHeadGroup, n_head - h0);
    for (int64_t j = 0; j < g; ++j) heads[j] = q + (h0 + j) * dim;
    dot_many(rows, n, heads, g, dim, logits);  // [key][head]
    for (int64_t s = 0; s < n; ++s)
      for (int64_t j = 0; j < g; ++j) out[s] += std::max(logits[s * g + j], 0.0f) * w[h0 + j];
  }
  for (int64_t s = 0; s < n; ++s) out[s] *= keys[s][0];
}

// A score as an unsigned key of the same order; -0 and +0 are one key, as
// the reference's comparisons see them.
uint32_t order_key(float x) {
  if (x == 0.0f) x = 0.0f;
  uint32_t b = 0;
  std::memcpy(&b, &x, sizeof b);
  return (b & 0x80000000u) != 0 ? ~b : b | 0x80000000u;
}

// The k-th largest of u[0, n) (1 <= k <= n), found 11 + 11 + 10 bits at a
// time from the top by histograms; `k` becomes how many keys equal to it
// belong to the k largest.
uint32_t kth_largest(const uint32_t* u, int64_t n, int64_t& k) {
  constexpr int kShift[3] = {21, 10, 0}, kBits[3] = {11, 11, 10};
  uint32_t prefix = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = kShift[pass], top = shift + kBits[pass];
    const uint32_t digit_mask = (1u << kBits[pass]) - 1;
    int64_t count[2048] = {};
    const uint64_t want = static_cast<uint64_t>(prefix) >> top;
    for (int64_t i = 0; i < n; ++i)
      if ((static_cast<uint64_t>(u[i]) >> top) == want) ++count[(u[i] >> shift) & digit_mask];
    int64_t b = digit_mask;
    for (; count[b] < k; --b) k -= count[b];
    prefix |= static_cast<uint32_t>(b) << shift;
  }
  return prefix;
}

}  // namespace

void hadamard_rotate(float* x, int64_t n) {
  if (use_avx512() && n >= 16) return avx512::hadamard_rotate(x, n);
  hadamard_rotate_ref(x, n);
}
uint8_t fp8_e4m3_from_float(float x) { return fp8_e4m3_from_float_ref(x); }
float fp8_e4m3_to_float(uint8_t v) { return fp8_e4m3_to_float_ref(v); }

float quantize_fp8_block_ue8m0(const float* x, int64_t n, uint8_t* q) {
  if (!use_avx512() || n % 16 != 0) return quantize_fp8_block_ue8m0_ref(x, n, q);
  const float scale = ue8m0_scale(avx512::abs_max(x, n));
  avx512::fp8_e4m3_encode(x, n, scale, q);
  return scale;
}

void dsa_index_scores(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys,
                      int64_t n_keys, float* out) {
  if (dim > kMaxDim) return dsa_index_scores_ref(q, w, n_head, dim, keys, n_keys, out);
  if (use_avx512() && dim % 64 == 0) return avx512::dsa_index_scores(q, w, n_head, dim, keys, n_keys, out);
  for (int64_t s0 = 0; s0 < n_keys; s0 += kKeyRun)
    score_run(q, w, n_head, dim, keys + s0, std::min(kKeyRun, n_keys - s0), out + s0);
}

void top_k_positions(const float* scores, int64_t n, int64_t k, int32_t* out, int32_t* scratch) {
  if (k >= n) return std::iota(out, out + n, 0);
  if (k <= 0) return;
  auto* u = reinterpret_cast<uint32_t*>(scratch);
  if (use_avx512()) avx512::order_keys(scores, n, u);
  else
    for (int64_t i = 0; i < n; ++i) u[i] = order_key(scores[i]);
  int64_t ties = k;
  const uint32_t kth = kth_largest(u, n, ties);
  if (use_avx512()) {
    avx512::select_positions(u, n, kth, ties, out);
    return;
  }
  // Ascending positions: everything above the k-th score, and of the keys
  // equal to it the earliest `ties`.
  int64_t j = 0;
  for (int64_t i = 0; i < n; ++i)
    if (u[i] > kth || (u[i] == kth && ties-- > 0)) out[j++] = static_cast<int32_t>(i);
}

}  // namespace dseek::kernels
