// See dsa_ref.h. Every step is written out as the equation it is.
#include "reference/dsa_ref.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "reference/ref_math.h"

namespace dseek::reference {
namespace {

// E4M3 ("fn"): 3 mantissa bits, exponents -6..8, subnormal quantum 2^-9, largest 448.
// Round to nearest, ties to even, after clamping to ±448.
double fp8_e4m3(double x) {
  const double a = std::min(std::fabs(x), 448.0);
  if (a == 0) return 0;
  const int e = std::max(static_cast<int>(std::floor(std::log2(a))), -6);
  const double quantum = std::ldexp(1.0, e - 3);
  const double r = a / quantum, f = std::floor(r);
  double n = r - f > 0.5 ? f + 1 : r - f < 0.5 ? f : (std::fmod(f, 2.0) == 0 ? f : f + 1);
  return std::copysign(n * quantum, x);
}

// act_quant(x, 128, "ue8m0") on one 128-block: the power-of-two scale, and x
// replaced by its E4M3 values (unscaled).
double quantize_block(Vec& x) {
  double amax = 0;
  for (double v : x) amax = std::max(amax, std::fabs(v));
  const double scale = std::exp2(std::ceil(std::log2(std::max(amax, 1e-4) / 448.0)));
  for (double& v : x) v = fp8_e4m3(v / scale);
  return scale;
}

// y = H x / sqrt(n), H the Sylvester Hadamard matrix: H[i][j] = (-1)^popcount(i & j).
Vec hadamard(const Vec& x) {
  const size_t n = x.size();
  Vec y(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) y[i] += (std::popcount(i & j) % 2 ? -1.0 : 1.0) * x[j];
  for (double& v : y) v /= std::sqrt(static_cast<double>(n));
  return y;
}

// LayerNorm with weight and bias, eps 1e-6 (model.py class LayerNorm).
Vec layer_norm(const Vec& x, const Tensor& w, const Tensor& b) {
  const double n = static_cast<double>(x.size());
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double var = 0;
  for (double v : x) var += (v - mean) * (v - mean);
  const double inv = 1.0 / std::sqrt(var / n + 1e-6);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mean) * inv * w.data[i] + b.data[i];
  return y;
}

// RoPE (half-split pairs) on the leading d_rope values, Hadamard, FP8: returns the scale.
double prepare(const DsaRef& w, Vec& v, const Vec& freqs, int64_t pos) {
  rope_half_split(v.data(), freqs, pos);  // rotates the first 2·freqs.size() = d_rope values
  v = hadamard(v);
  return quantize_block(v);
}

}  // namespace

std::vector<std::vector<int64_t>> dsa_select(const DsaRef& w, const std::vector<Vec>& xn, const std::vector<Vec>& q_lora,
                                             const Vec& freqs) {
  const int64_t T = static_cast<int64_t>(xn.size()), D = w.dim;
  std::vector<Vec> k(static_cast<size_t>(T));
  Vec k_scale(static_cast<size_t>(T));
  for (int64_t s = 0; s < T; ++s) {
    k[s] = layer_norm(linear(w.wk, xn[s]), w.k_norm, w.k_norm_bias);
    k_scale[s] = prepare(w, k[s], freqs, s);
  }
  std::vector<std::vector<int64_t>> keys(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int64_t>& sel = keys[static_cast<size_t>(t)];
    sel.resize(static_cast<size_t>(t + 1));
    std::iota(sel.begin(), sel.end(), int64_t{0});
    if (t + 1 <= w.topk) continue;
    const Vec q = linear(w.wq_b, q_lora[t]), proj = linear(w.proj, xn[t]);
    Vec score(static_cast<size_t>(t + 1), 0.0);
    for (int64_t h = 0; h < w.n_head; ++h) {
      Vec qh(q.begin() + h * D, q.begin() + (h + 1) * D);
      const double q_scale = prepare(w, qh, freqs, t);
      const double weight = proj[h] / std::sqrt(static_cast<double>(w.n_head)) * q_scale / std::sqrt(static_cast<double>(D));
      for (int64_t s = 0; s <= t; ++s) {
        double dot = 0;
        for (int64_t i = 0; i < D; ++i) dot += qh[i] * k[s][i];
        score[s] += std::max(dot, 0.0) * weight;
      }
    }
    for (int64_t s = 0; s <= t; ++s) score[s] *= k_scale[s];
    std::stable_sort(sel.begin(), sel.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
    sel.resize(static_cast<size_t>(w.topk));
    std::sort(sel.begin(), sel.end());
  }
  return keys;
}

std::vector<Vec> selected_attention(const std::vector<Vec>& q, const std::vector<Vec>& k, const std::vector<Vec>& v,
                                    double scale, const std::vector<std::vector<int64_t>>& keys) {
  std::vector<Vec> out(q.size(), Vec(v.empty() ? 0 : v[0].size(), 0.0));
  for (size_t t = 0; t < q.size(); ++t) {
    Vec p(keys[t].size());
    for (size_t j = 0; j < keys[t].size(); ++j) {
      double dot = 0.0;
      for (size_t i = 0; i < q[t].size(); ++i) dot += q[t][i] * k[keys[t][j]][i];
      p[j] = dot * scale;
    }
    softmax_in_place(p);
    for (size_t j = 0; j < keys[t].size(); ++j)
      for (size_t d = 0; d < v[keys[t][j]].size(); ++d) out[t][d] += p[j] * v[keys[t][j]][d];
  }
  return out;
}

}  // namespace dseek::reference
