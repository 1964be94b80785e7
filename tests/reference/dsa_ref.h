// Reference-internal: DeepSeek-V3.2's lightning indexer and the sparse
// attention it feeds, in float64 from the equations (DeepSeek-V3.2-Exp
// inference/model.py class Indexer, kernel.py act_quant / fp8_index;
// DEEPSEEK_NOTES.md "V3.2 sparse attention (DSA)"). Shares no code with src/.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/ref_weights.h"

namespace dseek::reference {

struct DsaRef {
  int64_t n_head = 0, dim = 0, topk = 0, d_rope = 0;  // n_head 0: no indexer
  Tensor wq_b, wk, k_norm, k_norm_bias, proj;
};

// For each query position t (0..T-1, from an empty cache), the key positions
// it attends to, ascending: all of 0..t while t + 1 <= topk, otherwise the
// topk best index scores among them (ties: the earlier position).
// xn: the layer's normalised inputs; q_lora: MLA's normalised compressed queries;
// freqs: MLA's RoPE frequencies (d_rope / 2 of them).
std::vector<std::vector<int64_t>> dsa_select(const DsaRef& w, const std::vector<Vec>& xn, const std::vector<Vec>& q_lora,
                                             const Vec& freqs);

// One head's attention over the given keys of each query:
// o[t] = Σ_{s in keys[t]} softmax_s(q[t]·k[s]·scale) v[s].
std::vector<Vec> selected_attention(const std::vector<Vec>& q, const std::vector<Vec>& k, const std::vector<Vec>& v,
                                    double scale, const std::vector<std::vector<int64_t>>& keys);

}  // namespace dseek::reference
