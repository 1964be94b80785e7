// Causal multi-head attention of MLA's naive form, for training: per head,
// keys are [k_nope(h) | k_rope] with one rotated k_rope shared by all heads,
// values v(h); probabilities are saved for the backward pass. Sequences are
// independent row ranges of the batch (no attention across them).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"

namespace dseek::train {

struct AttnShape {
  int64_t n_head = 0, d_nope = 0, d_rope = 0, d_v = 0;
  double scale = 1.0;  // softmax scale
};

// Row layouts (n = all tokens): q [n x H*(Dn+Dr)] per head [nope|rope];
// kv [n x H*(Dn+Dv)] per head [k_nope|v]; k_rope [n x Dr]; out [n x H*Dv].
// seq_starts: first row of each sequence, plus n at the end.
// probs is resized to hold every sequence's [H x S x S] probabilities.
template <typename T>
void attention_fwd(ThreadPool& pool, const AttnShape& s, std::span<const int64_t> seq_starts, const T* q, const T* kv,
                   const T* k_rope, T* out, std::vector<T>& probs);
// Accumulates dq, dkv, dk_rope from dout.
template <typename T>
void attention_bwd(ThreadPool& pool, const AttnShape& s, std::span<const int64_t> seq_starts, const T* q, const T* kv,
                   const T* k_rope, const std::vector<T>& probs, const T* dout, T* dq, T* dkv, T* dk_rope);

}  // namespace dseek::train
