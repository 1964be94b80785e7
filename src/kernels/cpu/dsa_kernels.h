// Internal to kernels/: the AVX-512 lightning-indexer kernels (cpu/dsa_avx512.cpp,
// compiled with its own -m flags). kernels/dsa.cpp calls them where the CPU has
// AVX-512 and the shapes fit, else the scalar references (kernels/ref/dsa.cpp),
// which are their specification. Every one gives the bits of the path it
// replaces (tests/kernels/test_dsa_kernels.cpp checks each for equality):
//   hadamard_rotate, quantize: the reference's bits (the same adds, the same
//     exactly rounded conversions);
//   top-k: the same positions;
//   index scores: the bits of the portable entry (each (key, head) logit
//     dot_f32's AVX-512 order, heads summed in order with a multiply then an add).
#pragma once

#include <cstdint>

namespace dseek::kernels::avx512 {

// n a power of two >= 16.
void hadamard_rotate(float* x, int64_t n);
// n a multiple of 16.
float abs_max(const float* x, int64_t n);
// q[i] = e4m3(x[i] / scale), n a multiple of 16.
void fp8_e4m3_encode(const float* x, int64_t n, float scale, uint8_t* q);
// kernels::dsa_index_scores for dim a multiple of 64.
void dsa_index_scores(const float* q, const float* w, int64_t n_head, int64_t dim, const float* const* keys,
                      int64_t n_keys, float* out);

// top_k_positions' two linear passes: u[i] = scores[i] as an unsigned key of
// the same order (-0 as +0); then the ascending positions of the keys above
// kth and of the first `ties` keys equal to it. Returns how many it wrote.
void order_keys(const float* scores, int64_t n, uint32_t* u);
int64_t select_positions(const uint32_t* u, int64_t n, uint32_t kth, int64_t ties, int32_t* out);

}  // namespace dseek::kernels::avx512
