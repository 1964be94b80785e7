// See attention.h. Work is split over sequences (each owns its rows of every
// gradient, including the shared k_rope), so threads never write the same row.
#include "train/backward/attention.h"

#include <algorithm>
#include <cmath>

namespace dseek::train {
namespace {

// Offset of sequence i's probabilities: sum of H * S_j^2 over earlier sequences.
std::vector<int64_t> prob_offsets(const AttnShape& s, std::span<const int64_t> starts) {
  std::vector<int64_t> off(starts.size(), 0);
  for (size_t i = 0; i + 1 < starts.size(); ++i) {
    const int64_t len = starts[i + 1] - starts[i];
    off[i + 1] = off[i] + s.n_head * len * len;
  }
  return off;
}

template <typename T>
T score(const AttnShape& s, const T* q, const T* kv, const T* kr) {
  double acc = 0;
  for (int64_t d = 0; d < s.d_nope; ++d) acc += static_cast<double>(q[d]) * kv[d];
  for (int64_t d = 0; d < s.d_rope; ++d) acc += static_cast<double>(q[s.d_nope + d]) * kr[d];
  return static_cast<T>(acc * s.scale);
}

}  // namespace

template <typename T>
void attention_fwd(ThreadPool& pool, const AttnShape& s, std::span<const int64_t> starts, const T* q, const T* kv,
                   const T* k_rope, T* out, std::vector<T>& probs) {
  const int64_t H = s.n_head, dq = s.d_nope + s.d_rope, dkv = s.d_nope + s.d_v, n_seq = static_cast<int64_t>(starts.size()) - 1;
  const std::vector<int64_t> off = prob_offsets(s, starts);
  probs.assign(static_cast<size_t>(off.back()), T(0));
  pool.parallel_for(n_seq, [&](int64_t a, int64_t b) {
    for (int64_t si = a; si < b; ++si) {
      const int64_t r0 = starts[si], S = starts[si + 1] - r0;
      for (int64_t h = 0; h < H; ++h) {
        T* P = probs.data() + off[si] + h * S * S;
        for (int64_t i = 0; i < S; ++i) {
          const T* qi = q + (r0 + i) * H * dq + h * dq;
          T* p = P + i * S;
          T mx = -INFINITY;
          for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, p[j] = score(s, qi, kv + (r0 + j) * H * dkv + h * dkv, k_rope + (r0 + j) * s.d_rope));
          double sum = 0;
          for (int64_t j = 0; j <= i; ++j) sum += (p[j] = std::exp(p[j] - mx));
          for (int64_t j = 0; j <= i; ++j) p[j] = static_cast<T>(p[j] / sum);
          T* o = out + (r0 + i) * H * s.d_v + h * s.d_v;
          std::fill(o, o + s.d_v, T(0));
          for (int64_t j = 0; j <= i; ++j) {
            const T* v = kv + (r0 + j) * H * dkv + h * dkv + s.d_nope;
            for (int64_t d = 0; d < s.d_v; ++d) o[d] += p[j] * v[d];
          }
        }
      }
    }
  });
}

template <typename T>
void attention_bwd(ThreadPool& pool, const AttnShape& s, std::span<const int64_t> starts, const T* q, const T* kv,
                   const T* k_rope, const std::vector<T>& probs, const T* dout, T* dq, T* dkv, T* dk_rope) {
  const int64_t H = s.n_head, dqw = s.d_nope + s.d_rope, dkvw = s.d_nope + s.d_v, n_seq = static_cast<int64_t>(starts.size()) - 1;
  const std::vector<int64_t> off = prob_offsets(s, starts);
  pool.parallel_for(n_seq, [&](int64_t a, int64_t b) {
    std::vector<T> dp;
    for (int64_t si = a; si < b; ++si) {
      const int64_t r0 = starts[si], S = starts[si + 1] - r0;
      dp.resize(static_cast<size_t>(S));
      for (int64_t h = 0; h < H; ++h) {
        const T* P = probs.data() + off[si] + h * S * S;
        for (int64_t i = 0; i < S; ++i) {
          const T* p = P + i * S;
          const T* go = dout + (r0 + i) * H * s.d_v + h * s.d_v;
          // dP_ij = dout_i . v_j; dv_j += p_ij dout_i; dS = p (dP - sum_j p dP)
          double pdp = 0;
          for (int64_t j = 0; j <= i; ++j) {
            const T* v = kv + (r0 + j) * H * dkvw + h * dkvw + s.d_nope;
            T* gv = dkv + (r0 + j) * H * dkvw + h * dkvw + s.d_nope;
            double acc = 0;
            for (int64_t d = 0; d < s.d_v; ++d) {
              acc += static_cast<double>(go[d]) * v[d];
              gv[d] += p[j] * go[d];
            }
            dp[j] = static_cast<T>(acc);
            pdp += static_cast<double>(p[j]) * acc;
          }
          const T* qi = q + (r0 + i) * H * dqw + h * dqw;
          T* gq = dq + (r0 + i) * H * dqw + h * dqw;
          for (int64_t j = 0; j <= i; ++j) {
            const T ds = static_cast<T>(p[j] * (dp[j] - pdp) * s.scale);
            if (ds == 0) continue;
            const T* kn = kv + (r0 + j) * H * dkvw + h * dkvw;
            const T* kr = k_rope + (r0 + j) * s.d_rope;
            T* gk = dkv + (r0 + j) * H * dkvw + h * dkvw;
            T* gkr = dk_rope + (r0 + j) * s.d_rope;
            for (int64_t d = 0; d < s.d_nope; ++d) {
              gq[d] += ds * kn[d];
              gk[d] += ds * qi[d];
            }
            for (int64_t d = 0; d < s.d_rope; ++d) {
              gq[s.d_nope + d] += ds * kr[d];
              gkr[d] += ds * qi[s.d_nope + d];
            }
          }
        }
      }
    }
  });
}

template void attention_fwd<float>(ThreadPool&, const AttnShape&, std::span<const int64_t>, const float*, const float*,
                                   const float*, float*, std::vector<float>&);
template void attention_fwd<double>(ThreadPool&, const AttnShape&, std::span<const int64_t>, const double*,
                                    const double*, const double*, double*, std::vector<double>&);
template void attention_bwd<float>(ThreadPool&, const AttnShape&, std::span<const int64_t>, const float*, const float*,
                                   const float*, const std::vector<float>&, const float*, float*, float*, float*);
template void attention_bwd<double>(ThreadPool&, const AttnShape&, std::span<const int64_t>, const double*,
                                    const double*, const double*, const std::vector<double>&, const double*, double*,
                                    double*, double*);

}  // namespace dseek::train
