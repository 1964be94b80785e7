// Reference-internal: float64 equations shared by the reference architectures
// (see ref_math.h for the sources). Plain loops; speed is not a goal.
#include "reference/ref_math.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>

namespace dseek::reference {

Vec matvec(const Tensor& w, const Vec& x, int64_t row0, int64_t n_rows) {
  assert(static_cast<int64_t>(x.size()) == w.cols());
  if (n_rows < 0) n_rows = w.rows() - row0;
  Vec y(static_cast<size_t>(n_rows), 0.0);
  for (int64_t o = 0; o < n_rows; ++o) {
    const double* row = w.row(row0 + o);
    double s = 0.0;
    for (int64_t i = 0; i < w.cols(); ++i) s += row[i] * x[static_cast<size_t>(i)];
    y[static_cast<size_t>(o)] = s;
  }
  return y;
}

Vec linear(const Tensor& w, const Vec& x, int64_t row0, int64_t n_rows) {
  if (!w.int8_acts) return matvec(w, x, row0, n_rows);
  Vec xq(x.size());
  for (size_t b = 0; b < x.size(); b += 32) {
    const size_t e = std::min(x.size(), b + 32);
    double amax = 0.0;
    for (size_t i = b; i < e; ++i) amax = std::max(amax, std::fabs(x[i]));
    for (size_t i = b; i < e; ++i) xq[i] = amax > 0 ? std::nearbyint(x[i] * 127.0 / amax) * (amax / 127.0) : 0.0;
  }
  return matvec(w, xq, row0, n_rows);
}

Vec rms_norm(const Vec& x, const Tensor& w, double eps) {
  double ss = 0.0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * w.data[i];
  return y;
}

double silu(double x) { return x / (1.0 + std::exp(-x)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

void softmax_in_place(Vec& x) {
  const double mx = *std::max_element(x.begin(), x.end());
  double sum = 0.0;
  for (double& v : x) sum += (v = std::exp(v - mx));
  for (double& v : x) v /= sum;
}

Vec swiglu_mlp(const Tensor& gate, const Tensor& up, const Tensor& down, const Vec& x, int64_t f_row0, int64_t n_ff,
               int64_t e_row0, int64_t n_embd) {
  const Vec g = linear(gate, x, f_row0, n_ff);
  const Vec u = linear(up, x, f_row0, n_ff);
  Vec a(g.size());
  for (size_t i = 0; i < g.size(); ++i) a[i] = silu(g[i]) * u[i];
  return linear(down, a, e_row0, n_embd);
}

Vec rope_freqs(int64_t d, double theta) {
  Vec f(static_cast<size_t>(d / 2));
  for (int64_t i = 0; i < d / 2; ++i) f[static_cast<size_t>(i)] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
  return f;
}

void rope_adjacent(double* x, const Vec& freqs, int64_t pos) {
  for (size_t i = 0; i < freqs.size(); ++i) {
    const double a = static_cast<double>(pos) * freqs[i], c = std::cos(a), s = std::sin(a);
    const double x0 = x[2 * i], x1 = x[2 * i + 1];
    x[2 * i] = x0 * c - x1 * s;
    x[2 * i + 1] = x0 * s + x1 * c;
  }
}

void rope_half_split(double* x, const Vec& freqs, int64_t pos) {
  const size_t h = freqs.size();
  for (size_t i = 0; i < h; ++i) {
    const double a = static_cast<double>(pos) * freqs[i], c = std::cos(a), s = std::sin(a);
    const double x0 = x[i], x1 = x[i + h];
    x[i] = x0 * c - x1 * s;
    x[i + h] = x0 * s + x1 * c;
  }
}

// corr(r) = d·ln(orig/(2π·r)) / (2·ln θ): the pair index whose wavelength fits r times in orig.
YarnRange yarn_range(int64_t d, double theta, const Yarn& y) {
  auto corr = [&](double r) {
    return static_cast<double>(d) * std::log(y.orig_ctx / (2.0 * std::numbers::pi * r)) / (2.0 * std::log(theta));
  };
  double low = std::max(std::floor(corr(y.beta_fast)), 0.0);
  double high = std::min(std::ceil(corr(y.beta_slow)), static_cast<double>(d - 1));
  if (low == high) high += 0.001;  // avoid a zero-width ramp
  return {low, high};
}

// freq_i' = freq_i·(1 − ramp_i) + (freq_i/factor)·ramp_i, ramp_i = clamp((i − low)/(high − low), 0, 1).
Vec yarn_freqs(int64_t d, double theta, const Yarn& y) {
  Vec f = rope_freqs(d, theta);
  const YarnRange r = yarn_range(d, theta, y);
  for (size_t i = 0; i < f.size(); ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - r.low) / (r.high - r.low), 0.0, 1.0);
    f[i] = f[i] * (1.0 - ramp) + (f[i] / y.factor) * ramp;
  }
  return f;
}

double yarn_mscale(const Yarn& y) {
  return y.factor <= 1.0 ? 1.0 : 1.0 + 0.1 * y.mscale_all_dim * std::log(y.factor);
}

std::vector<Vec> causal_attention(const std::vector<Vec>& q, const std::vector<Vec>& k, const std::vector<Vec>& v,
                                  double scale) {
  std::vector<Vec> out(q.size(), Vec(v.empty() ? 0 : v[0].size(), 0.0));
  for (size_t t = 0; t < q.size(); ++t) {
    Vec p(t + 1);
    for (size_t s = 0; s <= t; ++s) {
      double dot = 0.0;
      for (size_t i = 0; i < q[t].size(); ++i) dot += q[t][i] * k[s][i];
      p[s] = dot * scale;
    }
    softmax_in_place(p);
    for (size_t s = 0; s <= t; ++s)
      for (size_t j = 0; j < v[s].size(); ++j) out[t][j] += p[s] * v[s][j];
  }
  return out;
}

namespace {

// Indices of the k largest values among `allowed`, best first; ties -> lower index.
std::vector<int64_t> top_k(const Vec& value, const std::vector<bool>& allowed, int64_t k) {
  std::vector<int64_t> idx;
  for (size_t i = 0; i < value.size(); ++i)
    if (allowed[i]) idx.push_back(static_cast<int64_t>(i));
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return value[a] > value[b]; });
  if (static_cast<int64_t>(idx.size()) > k) idx.resize(static_cast<size_t>(k));
  return idx;
}

// Which experts survive group-limited selection: keep the n_group_used best groups,
// scored by the sum of their top-2 s_sel (with a bias, noaux_tc) or their max s_sel (V2).
std::vector<bool> kept_experts(const Vec& s_sel, bool has_bias, const RouteParams& p) {
  const int64_t n = static_cast<int64_t>(s_sel.size());
  std::vector<bool> keep(s_sel.size(), true);
  if (p.n_group <= 1) return keep;
  const int64_t per = n / p.n_group;
  Vec group_score(static_cast<size_t>(p.n_group));
  for (int64_t g = 0; g < p.n_group; ++g) {
    Vec in(s_sel.begin() + g * per, s_sel.begin() + (g + 1) * per);
    std::sort(in.begin(), in.end(), std::greater<>());
    group_score[static_cast<size_t>(g)] = has_bias ? in[0] + (in.size() > 1 ? in[1] : 0.0) : in[0];
  }
  const std::vector<int64_t> groups = top_k(group_score, std::vector<bool>(group_score.size(), true), p.n_group_used);
  for (int64_t e = 0; e < n; ++e)
    keep[static_cast<size_t>(e)] = std::find(groups.begin(), groups.end(), e / per) != groups.end();
  return keep;
}

}  // namespace

Routing route(const Vec& router_logits, const Vec& bias, const RouteParams& p) {
  Vec s = router_logits;  // scores: softmax or sigmoid of the router logits
  if (p.sigmoid) {
    for (double& v : s) v = sigmoid(v);
  } else {
    softmax_in_place(s);
  }
  Vec s_sel = s;  // the bias only chooses, it never weights
  if (!bias.empty())
    for (size_t i = 0; i < s.size(); ++i) s_sel[i] += bias[i];
  Routing r;
  r.experts = top_k(s_sel, kept_experts(s_sel, !bias.empty(), p), p.n_used);
  double sum = 0.0;
  for (int64_t e : r.experts) sum += s[static_cast<size_t>(e)];
  for (int64_t e : r.experts) r.weights.push_back(s[static_cast<size_t>(e)] * (p.norm ? 1.0 / sum : 1.0) * p.scale);
  return r;
}

}  // namespace dseek::reference
