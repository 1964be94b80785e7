// See mhc.h. The mixing weights are a few dozen floats per token, computed in
// f32 as DeepSeek's code does; the stream sums run in a fixed order per token.
#include "model/blocks/mhc.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/blocks/linear.h"

namespace dseek {
namespace {

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// mix [T x rows] = (fn . X_t) / sqrt(mean(X_t^2) + eps): RMSNorm without weight, then the projection.
float* mixes(ThreadPool& pool, const MhcConfig& c, const MhcWeights& w, const float* x, int64_t n_tok,
             StepArena& arena) {
  const int64_t width = c.n * c.n_embd, rows = w.fn.rows;
  float* mix = arena.take<float>(n_tok * rows);
  linear(pool, w.fn, x, n_tok, mix, arena);
  for (int64_t t = 0; t < n_tok; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < width; ++i) ss += static_cast<double>(x[t * width + i]) * x[t * width + i];
    const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(width) + c.rms_eps));
    for (int64_t i = 0; i < rows; ++i) mix[t * rows + i] *= r;
  }
  return mix;
}

// y = sum_j pre_j X_j (streams in order).
void collapse(const float* pre, const float* xt, int64_t n, int64_t E, float* y) {
  for (int64_t i = 0; i < E; ++i) {
    float s = 0;
    for (int64_t j = 0; j < n; ++j) s += pre[j] * xt[j * E + i];
    y[i] = s;
  }
}

}  // namespace

void mhc_sinkhorn(float* c, int64_t n, int64_t iters, float eps) {
  for (int64_t j = 0; j < n; ++j) {
    float* r = c + j * n;
    const float mx = *std::max_element(r, r + n);
    float s = 0;
    for (int64_t k = 0; k < n; ++k) s += (r[k] = std::exp(r[k] - mx));
    for (int64_t k = 0; k < n; ++k) r[k] = r[k] / s + eps;
  }
  auto normalise_columns = [&] {
    for (int64_t k = 0; k < n; ++k) {
      float s = 0;
      for (int64_t j = 0; j < n; ++j) s += c[j * n + k];
      for (int64_t j = 0; j < n; ++j) c[j * n + k] /= s + eps;
    }
  };
  normalise_columns();
  for (int64_t it = 1; it < iters; ++it) {
    for (int64_t j = 0; j < n; ++j) {
      float s = 0;
      for (int64_t k = 0; k < n; ++k) s += c[j * n + k];
      for (int64_t k = 0; k < n; ++k) c[j * n + k] /= s + eps;
    }
    normalise_columns();
  }
}

void mhc_pre(ThreadPool& pool, const MhcConfig& c, const MhcWeights& w, const float* x, int64_t n_tok, float* y,
             float* post, float* comb, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t n = c.n, E = c.n_embd, rows = w.fn.rows;
  const float* mix = mixes(pool, c, w, x, n_tok, arena);
  float pre[64];
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* m = mix + t * rows;
    for (int64_t j = 0; j < n; ++j) {
      pre[j] = sigmoid(m[j] * w.scale[0] + w.base[j]) + c.hc_eps;
      post[t * n + j] = 2.0f * sigmoid(m[n + j] * w.scale[1] + w.base[n + j]);
    }
    float* cm = comb + t * n * n;
    for (int64_t i = 0; i < n * n; ++i) cm[i] = m[2 * n + i] * w.scale[2] + w.base[2 * n + i];
    mhc_sinkhorn(cm, n, c.sinkhorn_iters, c.hc_eps);
    collapse(pre, x + t * n * E, n, E, y + t * E);
  }
}

void mhc_post(const MhcConfig& c, float* x, const float* f, const float* post, const float* comb, int64_t n_tok,
              StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t n = c.n, E = c.n_embd;
  float* old = arena.take<float>(n * E);
  for (int64_t t = 0; t < n_tok; ++t) {
    float* xt = x + t * n * E;
    std::memcpy(old, xt, static_cast<size_t>(n * E) * sizeof(float));
    const float* cm = comb + t * n * n;
    for (int64_t k = 0; k < n; ++k)
      for (int64_t i = 0; i < E; ++i) {
        float s = post[t * n + k] * f[t * E + i];
        for (int64_t j = 0; j < n; ++j) s += cm[j * n + k] * old[j * E + i];
        xt[k * E + i] = s;
      }
  }
}

void mhc_head(ThreadPool& pool, const MhcConfig& c, const MhcWeights& w, float* x, int64_t n_tok, float* y,
              StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t n = c.n, E = c.n_embd;
  const float* mix = mixes(pool, c, w, x, n_tok, arena);
  float* row = arena.take<float>(E);
  float pre[64];
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t j = 0; j < n; ++j) pre[j] = sigmoid(mix[t * n + j] * w.scale[0] + w.base[j]) + c.hc_eps;
    collapse(pre, x + t * n * E, n, E, row);  // row t of y may overlap row t of x: collapse first
    std::memcpy(y + t * E, row, static_cast<size_t>(E) * sizeof(float));
  }
}

}  // namespace dseek
