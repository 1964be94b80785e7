// Entry points of the lightning-indexer kernels (kernels.h, "Sparse
// attention"): the scalar references for now; an ISA table can take over the
// score loop without a change to model code.
#include "kernels/ref/reference.h"

namespace dseek::kernels {

void hadamard_rotate(float* x, int64_t n) { hadamard_rotate_ref(x, n); }
uint8_t fp8_e4m3_from_float(float x) { return fp8_e4m3_from_float_ref(x); }
float fp8_e4m3_to_float(uint8_t v) { return fp8_e4m3_to_float_ref(v); }
float quantize_fp8_block_ue8m0(const float* x, int64_t n, uint8_t* q) { return quantize_fp8_block_ue8m0_ref(x, n, q); }

void dsa_index_scores(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys,
                      int64_t n_keys, float* out) {
  dsa_index_scores_ref(q, w, n_head, dim, keys, n_keys, out);
}

void top_k_positions(const float* scores, int64_t n, int64_t k, int32_t* out, int32_t* scratch) {
  top_k_positions_ref(scores, n, k, out, scratch);
}

}  // namespace dseek::kernels
