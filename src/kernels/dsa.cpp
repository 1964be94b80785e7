// Entry points of the lightning-indexer kernels (kernels.h, "Sparse
// attention"). The score loop decodes a run of keys to f32 and takes every
// (key, head) product with dot_many (the active ISA's dot, pairwise the bits
// of dot()); the rest are the scalar references.
#include <algorithm>

#include "kernels/ref/reference.h"

namespace dseek::kernels {
namespace {

constexpr int64_t kKeyRun = 16, kMaxDim = 512, kHeadGroup = 64;

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

}  // namespace

void hadamard_rotate(float* x, int64_t n) { hadamard_rotate_ref(x, n); }
uint8_t fp8_e4m3_from_float(float x) { return fp8_e4m3_from_float_ref(x); }
float fp8_e4m3_to_float(uint8_t v) { return fp8_e4m3_to_float_ref(v); }
float quantize_fp8_block_ue8m0(const float* x, int64_t n, uint8_t* q) { return quantize_fp8_block_ue8m0_ref(x, n, q); }

void dsa_index_scores(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys,
                      int64_t n_keys, float* out) {
  if (dim > kMaxDim) return dsa_index_scores_ref(q, w, n_head, dim, keys, n_keys, out);
  for (int64_t s0 = 0; s0 < n_keys; s0 += kKeyRun)
    score_run(q, w, n_head, dim, keys + s0, std::min(kKeyRun, n_keys - s0), out + s0);
}

void top_k_positions(const float* scores, int64_t n, int64_t k, int32_t* out, int32_t* scratch) {
  top_k_positions_ref(scores, n, k, out, scratch);
}

}  // namespace dseek::kernels
