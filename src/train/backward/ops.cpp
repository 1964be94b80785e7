// See ops.h. linear's float forward and backward run on the inference GEMM
// kernel (the backward products as GEMMs over transposed operands); the
// float64 path (gradient checks) is plain loops.
#include "train/backward/ops.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/float_convert.h"
#include "kernels/kernels.h"

namespace dseek::train {
namespace {

// y[0..n) += a * x[0..n)
void axpy(double* y, double a, const double* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void round_to_bf16(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
}

namespace {
std::vector<float> bf16_copy(const float* x, int64_t n) {
  std::vector<float> r(x, x + n);
  round_to_bf16(r.data(), n);
  return r;
}
}  // namespace

template <typename T>
void linear_fwd(ThreadPool& pool, const T* x, int64_t n, int64_t in, const T* w, int64_t out, T* y, bool bf16) {
  if constexpr (std::is_same_v<T, float>) {
    std::vector<float> xr;
    if (bf16) x = (xr = bf16_copy(x, n * in)).data();
    const kernels::MatrixView m = kernels::make_matrix(DType::kF32, w, out, in);
    pool.parallel_for(out, [&](int64_t r0, int64_t r1) { kernels::matmul(m, x, in, n, y, out, r0, r1); }, 16);
  } else {
    pool.parallel_for(n, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t o = 0; o < out; ++o) {
          T s = 0;
          for (int64_t i = 0; i < in; ++i) s += x[t * in + i] * w[o * in + i];
          y[t * out + o] = s;
        }
    });
  }
}

namespace {

// out[c x r] = in[r x c]^T
template <typename T>
std::vector<T> transposed(const T* in, int64_t r, int64_t c) {
  std::vector<T> out(static_cast<size_t>(r * c));
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) out[static_cast<size_t>(j * r + i)] = in[i * c + j];
  return out;
}

// acc[rows x cols] += A[rows x k] * B[cols x k]^T on the inference GEMM kernel
// (B plays the weight matrix, A's rows the tokens).
void gemm_nt_accumulate(ThreadPool& pool, const float* a, int64_t rows, const float* b, int64_t cols, int64_t k,
                        float* acc) {
  std::vector<float> tmp(static_cast<size_t>(rows * cols));
  const kernels::MatrixView m = kernels::make_matrix(DType::kF32, b, cols, k);
  pool.parallel_for(cols, [&](int64_t c0, int64_t c1) { kernels::matmul(m, a, k, rows, tmp.data(), cols, c0, c1); }, 16);
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0 * cols; i < r1 * cols; ++i) acc[i] += tmp[static_cast<size_t>(i)];
  });
}

template <typename T>
void linear_bwd_loops(ThreadPool& pool, const T* x, int64_t n, int64_t in, const T* w, int64_t out, const T* dy, T* dx,
                      T* dw);

}  // namespace

template <typename T>
void linear_bwd(ThreadPool& pool, const T* x, int64_t n, int64_t in, const T* w, int64_t out, const T* dy, T* dx,
                T* dw, bool bf16) {
  if constexpr (std::is_same_v<T, float>) {
    std::vector<float> xr, dyr;
    if (bf16) {
      x = (xr = bf16_copy(x, n * in)).data();
      dy = (dyr = bf16_copy(dy, n * out)).data();
    }
    // dx[n x in] += dy[n x out] * (w^T)^T ... as GEMMs: dx = dy * W = dy * (W^T)^T; dW = dy^T x = (dy^T)(x^T)^T.
    if (dx) gemm_nt_accumulate(pool, dy, n, transposed(w, out, in).data(), in, out, dx);
    if (dw) gemm_nt_accumulate(pool, transposed(dy, n, out).data(), out, transposed(x, n, in).data(), in, n, dw);
  } else {
    linear_bwd_loops(pool, x, n, in, w, out, dy, dx, dw);
  }
}

namespace {
template <typename T>
void linear_bwd_loops(ThreadPool& pool, const T* x, int64_t n, int64_t in, const T* w, int64_t out, const T* dy, T* dx,
                      T* dw) {
  if (dx) {
    pool.parallel_for(n, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t o = 0; o < out; ++o)
          if (const T g = dy[t * out + o]; g != 0) axpy(dx + t * in, g, w + o * in, in);
    });
  }
  if (dw) {
    pool.parallel_for(out, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o)
        for (int64_t t = 0; t < n; ++t)
          if (const T g = dy[t * out + o]; g != 0) axpy(dw + o * in, g, x + t * in, in);
    }, 4);
  }
}
}  // namespace

template <typename T>
void rms_norm_fwd(const T* x, const T* w, int64_t n, int64_t d, double eps, T* y, T* inv_rms) {
  for (int64_t r = 0; r < n; ++r) {
    const T* xr = x + r * d;
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const T inv = static_cast<T>(1.0 / std::sqrt(ss / static_cast<double>(d) + eps));
    inv_rms[r] = inv;
    for (int64_t i = 0; i < d; ++i) y[r * d + i] = xr[i] * inv * w[i];
  }
}

// y_i = x_i r w_i, r = (mean x^2 + eps)^-1/2:  dx_i = r (g_i - x_i r^2 mean_j(g_j x_j)), g = dy * w.
template <typename T>
void rms_norm_bwd(const T* x, const T* w, const T* inv_rms, const T* dy, int64_t n, int64_t d, T* dx, T* dw) {
  for (int64_t r = 0; r < n; ++r) {
    const T* xr = x + r * d;
    const T* g = dy + r * d;
    const double inv = inv_rms[r];
    double gx = 0;
    for (int64_t i = 0; i < d; ++i) {
      gx += static_cast<double>(g[i]) * w[i] * xr[i];
      if (dw) dw[i] += g[i] * xr[i] * static_cast<T>(inv);
    }
    const double c = inv * inv * gx / static_cast<double>(d);
    for (int64_t i = 0; i < d; ++i) dx[r * d + i] += static_cast<T>(inv * (g[i] * w[i] - xr[i] * c));
  }
}

template <typename T>
void rope_fwd(T* x, int64_t n_dims, const float* cos, const float* sin) {
  for (int64_t i = 0; i < n_dims / 2; ++i) {
    const T a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cos[i] - b * sin[i];
    x[2 * i + 1] = a * sin[i] + b * cos[i];
  }
}

template <typename T>
void rope_bwd(T* dx, int64_t n_dims, const float* cos, const float* sin) {
  for (int64_t i = 0; i < n_dims / 2; ++i) {
    const T a = dx[2 * i], b = dx[2 * i + 1];
    dx[2 * i] = a * cos[i] + b * sin[i];
    dx[2 * i + 1] = -a * sin[i] + b * cos[i];
  }
}

template <typename T>
void silu_mul_fwd(const T* g, const T* u, int64_t n, T* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (T(1) + std::exp(-g[i])) * u[i];
}

template <typename T>
void silu_mul_bwd(const T* g, const T* u, const T* dout, int64_t n, T* dg, T* du) {
  for (int64_t i = 0; i < n; ++i) {
    const T s = T(1) / (T(1) + std::exp(-g[i]));
    du[i] += dout[i] * g[i] * s;
    dg[i] += dout[i] * u[i] * s * (T(1) + g[i] * (T(1) - s));
  }
}

template <typename T>
double cross_entropy(const T* logits, const int32_t* targets, int64_t n, int64_t v, double weight, double count_norm,
                     T* dlogits, int64_t* counted) {
  double loss = 0;
  int64_t cnt = 0;
  for (int64_t r = 0; r < n; ++r) {
    const T* l = logits + r * v;
    T* d = dlogits + r * v;
    if (targets[r] < 0) {
      std::fill(d, d + v, T(0));
      continue;
    }
    const T mx = *std::max_element(l, l + v);
    double sum = 0;
    for (int64_t i = 0; i < v; ++i) sum += std::exp(static_cast<double>(l[i] - mx));
    const double lse = std::log(sum) + mx;
    loss += lse - l[targets[r]];
    ++cnt;
    const double scale = weight / count_norm;
    for (int64_t i = 0; i < v; ++i) d[i] = static_cast<T>(std::exp(l[i] - lse) * scale);
    d[targets[r]] -= static_cast<T>(scale);
  }
  if (counted) *counted = cnt;
  return loss;
}

template <typename T>
double weighted_nll(const T* logits, const int32_t* targets, const float* weights, int64_t n, int64_t v, T* dlogits) {
  double total = 0;
  for (int64_t r = 0; r < n; ++r) {
    double w = weights[r];
    int64_t one = 1;
    const int32_t target = targets[r] >= 0 && w != 0 ? targets[r] : -1;
    total += w * cross_entropy(logits + r * v, &target, 1, v, 1.0, 1.0, dlogits + r * v, &one);
    if (target >= 0)
      for (int64_t i = 0; i < v; ++i) dlogits[r * v + i] *= static_cast<T>(w);
  }
  return total;
}

template <typename T>
double distill_kl(const T* logits, const float* teacher, int64_t n, int64_t v, double tau, double weight,
                  double count_norm, T* dlogits) {
  double total = 0;
  std::vector<double> ps(static_cast<size_t>(v)), pt(static_cast<size_t>(v));
  auto log_softmax = [&](auto* z, std::vector<double>& out) {
    double mx = -INFINITY;
    for (int64_t i = 0; i < v; ++i) mx = std::max(mx, static_cast<double>(z[i]) / tau);
    double sum = 0;
    for (int64_t i = 0; i < v; ++i) sum += std::exp(static_cast<double>(z[i]) / tau - mx);
    const double lse = mx + std::log(sum);
    for (int64_t i = 0; i < v; ++i) out[static_cast<size_t>(i)] = static_cast<double>(z[i]) / tau - lse;
  };
  for (int64_t r = 0; r < n; ++r) {
    log_softmax(logits + r * v, ps);
    log_softmax(teacher + r * v, pt);
    double kl = 0;
    T* d = dlogits + r * v;
    for (int64_t i = 0; i < v; ++i) {
      const double t = std::exp(pt[static_cast<size_t>(i)]), s = std::exp(ps[static_cast<size_t>(i)]);
      kl += t * (pt[static_cast<size_t>(i)] - ps[static_cast<size_t>(i)]);
      d[i] += static_cast<T>(weight * tau * (s - t) / count_norm);
    }
    total += tau * tau * kl;
  }
  return total;
}

#define DSEEK_TRAIN_OPS(T)                                                                                          \
  template void linear_fwd<T>(ThreadPool&, const T*, int64_t, int64_t, const T*, int64_t, T*, bool);               \
  template void linear_bwd<T>(ThreadPool&, const T*, int64_t, int64_t, const T*, int64_t, const T*, T*, T*, bool); \
  template void rms_norm_fwd<T>(const T*, const T*, int64_t, int64_t, double, T*, T*);                              \
  template void rms_norm_bwd<T>(const T*, const T*, const T*, const T*, int64_t, int64_t, T*, T*);                  \
  template void rope_fwd<T>(T*, int64_t, const float*, const float*);                                               \
  template void rope_bwd<T>(T*, int64_t, const float*, const float*);                                               \
  template void silu_mul_fwd<T>(const T*, const T*, int64_t, T*);                                                   \
  template void silu_mul_bwd<T>(const T*, const T*, const T*, int64_t, T*, T*);                                     \
  template double cross_entropy<T>(const T*, const int32_t*, int64_t, int64_t, double, double, T*, int64_t*);      \
  template double weighted_nll<T>(const T*, const int32_t*, const float*, int64_t, int64_t, T*);                  \
  template double distill_kl<T>(const T*, const float*, int64_t, int64_t, double, double, double, T*);
DSEEK_TRAIN_OPS(float)
DSEEK_TRAIN_OPS(double)
#undef DSEEK_TRAIN_OPS

}  // namespace dseek::train
