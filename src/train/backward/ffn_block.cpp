// See ffn_block.h.
#include "train/backward/ffn_block.h"

#include <algorithm>
#include <cmath>

#include "train/backward/ops.h"
#include "train/backward/param_shape.h"

namespace dseek::train {

template <typename T>
void MlpParams<T>::shape(const DeepseekHParams& h, int64_t layer, DsTensor gate_id, DsTensor up_id, DsTensor down_id) {
  shape_slot(gate, gate_id, h, layer);
  shape_slot(up, up_id, h, layer);
  shape_slot(down, down_id, h, layer);
}

template <typename T>
void MlpParams<T>::shape_expert(const DeepseekHParams& h, int64_t layer, int64_t e) {
  train::shape_expert(gate, DsTensor::kGateExps, h, layer, e);
  train::shape_expert(up, DsTensor::kUpExps, h, layer, e);
  train::shape_expert(down, DsTensor::kDownExps, h, layer, e);
}

template <typename T>
void MlpParams<T>::init(Rng& rng, double out_scale) {
  init_normal(gate, rng, 1.0 / std::sqrt(static_cast<double>(gate.cols)));
  init_normal(up, rng, 1.0 / std::sqrt(static_cast<double>(up.cols)));
  init_normal(down, rng, out_scale / std::sqrt(static_cast<double>(down.cols)));
}

template <typename T>
void MlpParams<T>::collect(std::vector<Param<T>*>& out) {
  out.push_back(&gate);
  out.push_back(&up);
  out.push_back(&down);
}

template <typename T>
void mlp_fwd(ThreadPool& pool, const MlpParams<T>& p, const T* x, int64_t n, MlpState<T>& s, T* y, bool bf16) {
  const int64_t F = p.gate.rows, E = p.gate.cols;
  s.g.assign(static_cast<size_t>(n * F), T(0));
  s.u.assign(static_cast<size_t>(n * F), T(0));
  s.a.assign(static_cast<size_t>(n * F), T(0));
  linear_fwd(pool, x, n, E, p.gate.w.data(), F, s.g.data(), bf16);
  linear_fwd(pool, x, n, E, p.up.w.data(), F, s.u.data(), bf16);
  silu_mul_fwd(s.g.data(), s.u.data(), n * F, s.a.data());
  linear_fwd(pool, s.a.data(), n, F, p.down.w.data(), E, y, bf16);
}

template <typename T>
void mlp_bwd(ThreadPool& pool, MlpParams<T>& p, const T* x, int64_t n, const MlpState<T>& s, const T* dy, T* dx,
             bool bf16) {
  const int64_t F = p.gate.rows, E = p.gate.cols;
  std::vector<T> da(static_cast<size_t>(n * F)), dg(static_cast<size_t>(n * F)), du(static_cast<size_t>(n * F));
  linear_bwd(pool, s.a.data(), n, F, p.down.w.data(), E, dy, da.data(), p.down.g.data(), bf16);
  silu_mul_bwd(s.g.data(), s.u.data(), da.data(), n * F, dg.data(), du.data());
  linear_bwd(pool, x, n, E, p.gate.w.data(), F, dg.data(), dx, p.gate.g.data(), bf16);
  linear_bwd(pool, x, n, E, p.up.w.data(), F, du.data(), dx, p.up.g.data(), bf16);
}

template <typename T>
void MoeParams<T>::shape(const DeepseekHParams& h, int64_t layer) {
  using enum DsTensor;
  shape_slot(router, kRouter, h, layer);
  experts.resize(static_cast<size_t>(h.n_expert));
  for (int64_t e = 0; e < h.n_expert; ++e) experts[static_cast<size_t>(e)].shape_expert(h, layer, e);
  has_shared = deepseek_tensors().present(kGateShexp, h, layer);
  if (has_shared) shared.shape(h, layer, kGateShexp, kUpShexp, kDownShexp);
  bias.assign(deepseek_tensors().present(kExpBias, h, layer) ? static_cast<size_t>(h.n_expert) : 0, 0.0f);
}

template <typename T>
void MoeParams<T>::init(Rng& rng, double out_scale) {
  init_normal(router, rng, 1.0 / std::sqrt(static_cast<double>(router.cols)));
  for (auto& e : experts) e.init(rng, out_scale);
  if (has_shared) shared.init(rng, out_scale);
}

template <typename T>
void MoeParams<T>::collect(std::vector<Param<T>*>& out) {
  out.push_back(&router);
  for (auto& e : experts) e.collect(out);
  if (has_shared) shared.collect(out);
}

namespace {

// Router scores of one token: sigmoid or softmax of its logits.
template <typename T>
void scores(const RoutingConfig& r, const T* logits, T* s) {
  const int64_t X = r.n_expert;
  if (r.sigmoid) {
    for (int64_t e = 0; e < X; ++e) s[e] = T(1) / (T(1) + std::exp(-logits[e]));
    return;
  }
  const T mx = *std::max_element(logits, logits + X);
  T sum = 0;
  for (int64_t e = 0; e < X; ++e) sum += (s[e] = std::exp(logits[e] - mx));
  for (int64_t e = 0; e < X; ++e) s[e] /= sum;
}

// f_i of the balance loss for one sequence: X/(K*S) * tokens that chose expert i.
std::vector<double> balance_f(const RoutingConfig& r, const std::vector<int32_t>& idx, int64_t t0, int64_t t1) {
  std::vector<double> f(static_cast<size_t>(r.n_expert), 0.0);
  for (int64_t t = t0; t < t1; ++t)
    for (int64_t k = 0; k < r.n_used; ++k) f[static_cast<size_t>(idx[static_cast<size_t>(t * r.n_used + k)])] += 1.0;
  const double norm = static_cast<double>(r.n_expert) / (static_cast<double>(r.n_used) * static_cast<double>(t1 - t0));
  for (double& v : f) v *= norm;
  return f;
}

}  // namespace

template <typename T>
void moe_fwd(ThreadPool& pool, const RoutingConfig& r, const MoeParams<T>& p, const T* x, int64_t n,
             std::span<const int64_t> seq_starts, double alpha, MoeState<T>& s, T* y, bool bf16) {
  const int64_t X = r.n_expert, K = r.n_used, E = p.router.cols;
  s.logits.assign(static_cast<size_t>(n * X), T(0));
  s.score.assign(static_cast<size_t>(n * X), T(0));
  s.idx.assign(static_cast<size_t>(n * K), 0);
  s.weight.assign(static_cast<size_t>(n * K), T(0));
  s.rows.assign(static_cast<size_t>(X), {});
  s.load.assign(static_cast<size_t>(X), 0);
  linear_fwd(pool, x, n, E, p.router.w.data(), X, s.logits.data());  // gating stays f32 (V3 §3.3.1)
  std::vector<float> lf(static_cast<size_t>(X)), scratch(static_cast<size_t>(route_scratch_floats(r))), wf(static_cast<size_t>(K));
  for (int64_t t = 0; t < n; ++t) {
    T* sc = s.score.data() + t * X;
    scores(r, s.logits.data() + t * X, sc);
    // Selection exactly as the inference engine makes it (same function, f32 logits).
    for (int64_t e = 0; e < X; ++e) lf[static_cast<size_t>(e)] = static_cast<float>(s.logits[static_cast<size_t>(t * X + e)]);
    route_token(r, lf.data(), p.bias.empty() ? nullptr : p.bias.data(), scratch.data(), s.idx.data() + t * K, wf.data());
    T sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += sc[s.idx[static_cast<size_t>(t * K + k)]];
    for (int64_t k = 0; k < K; ++k) {
      const int32_t e = s.idx[static_cast<size_t>(t * K + k)];
      s.weight[static_cast<size_t>(t * K + k)] = static_cast<T>(r.scale) * (r.normalize ? sc[e] / sum : sc[e]);
      s.rows[static_cast<size_t>(e)].push_back(t * K + k);
      ++s.load[static_cast<size_t>(e)];
    }
  }
  if (p.has_shared) mlp_fwd(pool, p.shared, x, n, s.shared, y, bf16);
  else std::fill(y, y + n * E, T(0));
  s.xe.assign(static_cast<size_t>(X), {});
  s.ye.assign(static_cast<size_t>(X), {});
  s.es.assign(static_cast<size_t>(X), {});
  for (int64_t e = 0; e < X; ++e) {
    const auto& rows = s.rows[static_cast<size_t>(e)];
    if (rows.empty()) continue;
    const int64_t m = static_cast<int64_t>(rows.size());
    auto& xe = s.xe[static_cast<size_t>(e)];
    auto& ye = s.ye[static_cast<size_t>(e)];
    xe.resize(static_cast<size_t>(m * E));
    ye.assign(static_cast<size_t>(m * E), T(0));
    for (int64_t i = 0; i < m; ++i) std::copy_n(x + (rows[static_cast<size_t>(i)] / K) * E, E, xe.data() + i * E);
    mlp_fwd(pool, p.experts[static_cast<size_t>(e)], xe.data(), m, s.es[static_cast<size_t>(e)], ye.data(), bf16);
    for (int64_t i = 0; i < m; ++i) {
      const int64_t slot = rows[static_cast<size_t>(i)];
      const T w = s.weight[static_cast<size_t>(slot)];
      T* yt = y + (slot / K) * E;
      for (int64_t j = 0; j < E; ++j) yt[j] += w * ye[static_cast<size_t>(i * E + j)];
    }
  }
  s.balance_loss = 0;
  if (alpha <= 0) return;
  const int64_t n_seq = static_cast<int64_t>(seq_starts.size()) - 1;
  for (int64_t q = 0; q < n_seq; ++q) {
    const int64_t t0 = seq_starts[q], t1 = seq_starts[q + 1];
    const std::vector<double> f = balance_f(r, s.idx, t0, t1);
    double l = 0;
    for (int64_t t = t0; t < t1; ++t) {
      const T* sc = s.score.data() + t * X;
      double z = 0;
      for (int64_t e = 0; e < X; ++e) z += sc[e];
      for (int64_t e = 0; e < X; ++e) l += f[static_cast<size_t>(e)] * sc[e] / z / static_cast<double>(t1 - t0);
    }
    s.balance_loss += alpha * l / static_cast<double>(n_seq);
  }
}

template <typename T>
void moe_bwd(ThreadPool& pool, const RoutingConfig& r, MoeParams<T>& p, const T* x, int64_t n,
             std::span<const int64_t> seq_starts, double alpha, const MoeState<T>& s, const T* dy, T* dx, bool bf16) {
  const int64_t X = r.n_expert, K = r.n_used, E = p.router.cols;
  if (p.has_shared) mlp_bwd(pool, p.shared, x, n, s.shared, dy, dx, bf16);
  std::vector<T> dweight(static_cast<size_t>(n * K), T(0));
  for (int64_t e = 0; e < X; ++e) {
    const auto& rows = s.rows[static_cast<size_t>(e)];
    if (rows.empty()) continue;
    const int64_t m = static_cast<int64_t>(rows.size());
    const auto& ye = s.ye[static_cast<size_t>(e)];
    std::vector<T> dye(static_cast<size_t>(m * E)), dxe(static_cast<size_t>(m * E), T(0));
    for (int64_t i = 0; i < m; ++i) {
      const int64_t slot = rows[static_cast<size_t>(i)];
      const T* g = dy + (slot / K) * E;
      const T w = s.weight[static_cast<size_t>(slot)];
      double dw = 0;
      for (int64_t j = 0; j < E; ++j) {
        dye[static_cast<size_t>(i * E + j)] = w * g[j];
        dw += static_cast<double>(g[j]) * ye[static_cast<size_t>(i * E + j)];
      }
      dweight[static_cast<size_t>(slot)] = static_cast<T>(dw);
    }
    mlp_bwd(pool, p.experts[static_cast<size_t>(e)], s.xe[static_cast<size_t>(e)].data(), m, s.es[static_cast<size_t>(e)],
            dye.data(), dxe.data(), bf16);
    for (int64_t i = 0; i < m; ++i) {
      T* d = dx + (rows[static_cast<size_t>(i)] / K) * E;
      for (int64_t j = 0; j < E; ++j) d[j] += dxe[static_cast<size_t>(i * E + j)];
    }
  }
  // Gate weights -> scores -> router logits.
  std::vector<T> dscore(static_cast<size_t>(n * X), T(0)), dlogits(static_cast<size_t>(n * X), T(0));
  for (int64_t t = 0; t < n; ++t) {
    const T* sc = s.score.data() + t * X;
    T* ds = dscore.data() + t * X;
    const int32_t* id = s.idx.data() + t * K;
    const T* dw = dweight.data() + t * K;
    const T c = static_cast<T>(r.scale);
    if (r.normalize) {
      T sum = 0, dot = 0;
      for (int64_t k = 0; k < K; ++k) sum += sc[id[k]], dot += dw[k] * sc[id[k]];
      for (int64_t k = 0; k < K; ++k) ds[id[k]] += c * (dw[k] / sum - dot / (sum * sum));
    } else {
      for (int64_t k = 0; k < K; ++k) ds[id[k]] += c * dw[k];
    }
  }
  if (alpha > 0) {  // L = alpha/n_seq * sum_i f_i * mean_t s_it / Z_t
    const int64_t n_seq = static_cast<int64_t>(seq_starts.size()) - 1;
    for (int64_t q = 0; q < n_seq; ++q) {
      const int64_t t0 = seq_starts[q], t1 = seq_starts[q + 1];
      const std::vector<double> f = balance_f(r, s.idx, t0, t1);
      const double k = alpha / static_cast<double>(n_seq) / static_cast<double>(t1 - t0);
      for (int64_t t = t0; t < t1; ++t) {
        const T* sc = s.score.data() + t * X;
        double z = 0, gs = 0;
        for (int64_t e = 0; e < X; ++e) z += sc[e], gs += k * f[static_cast<size_t>(e)] * sc[e];
        for (int64_t e = 0; e < X; ++e)
          dscore[static_cast<size_t>(t * X + e)] += static_cast<T>((k * f[static_cast<size_t>(e)] - gs / z) / z);
      }
    }
  }
  for (int64_t t = 0; t < n; ++t) {
    const T* sc = s.score.data() + t * X;
    const T* ds = dscore.data() + t * X;
    T* dl = dlogits.data() + t * X;
    if (r.sigmoid) {
      for (int64_t e = 0; e < X; ++e) dl[e] = ds[e] * sc[e] * (T(1) - sc[e]);
    } else {
      T dot = 0;
      for (int64_t e = 0; e < X; ++e) dot += sc[e] * ds[e];
      for (int64_t e = 0; e < X; ++e) dl[e] = sc[e] * (ds[e] - dot);
    }
  }
  linear_bwd(pool, x, n, E, p.router.w.data(), X, dlogits.data(), dx, p.router.g.data());
}

#define DSEEK_FFN(T)                                                                                                  \
  template struct MlpParams<T>;                                                                                      \
  template struct MoeParams<T>;                                                                                      \
  template void mlp_fwd<T>(ThreadPool&, const MlpParams<T>&, const T*, int64_t, MlpState<T>&, T*, bool);            \
  template void mlp_bwd<T>(ThreadPool&, MlpParams<T>&, const T*, int64_t, const MlpState<T>&, const T*, T*, bool);  \
  template void moe_fwd<T>(ThreadPool&, const RoutingConfig&, const MoeParams<T>&, const T*, int64_t,                \
                           std::span<const int64_t>, double, MoeState<T>&, T*, bool);                                \
  template void moe_bwd<T>(ThreadPool&, const RoutingConfig&, MoeParams<T>&, const T*, int64_t,                      \
                           std::span<const int64_t>, double, const MoeState<T>&, const T*, T*, bool);
DSEEK_FFN(float)
DSEEK_FFN(double)
#undef DSEEK_FFN

}  // namespace dseek::train
