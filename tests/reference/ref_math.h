// Reference-internal: the equations shared by the reference architectures, in
// float64 and plain loops — matrix-vector product, RMSNorm, SwiGLU, RoPE (both
// pair layouts) with YaRN frequencies, causal single-head attention, and the
// DeepSeekMoE routing gate. Nothing here is shared with src/model or src/kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/ref_weights.h"

namespace dseek::reference {

// y[o] = Σ_i W[o][i]·x[i] over the rows [row0, row0 + n_rows) of W (all rows if n_rows < 0).
Vec matvec(const Tensor& w, const Vec& x, int64_t row0 = 0, int64_t n_rows = -1);
// A projection layer: matvec, with x first rounded as the engine's int8 path
// rounds it when w.int8_acts (blocks of 32, d = max|x|/127, x -> d·round(x/d)).
Vec linear(const Tensor& w, const Vec& x, int64_t row0 = 0, int64_t n_rows = -1);
// RMSNorm(x, w) = x / sqrt(mean(x²) + eps) · w.
Vec rms_norm(const Vec& x, const Tensor& w, double eps);
double silu(double x);
double sigmoid(double x);
void softmax_in_place(Vec& x);
// SwiGLU MLP down · (silu(gate·x) ⊙ (up·x)); the *_row0 pick one expert's slice
// of a stacked [X][F][E] / [X][E][F] tensor (0 for a plain MLP).
Vec swiglu_mlp(const Tensor& gate, const Tensor& up, const Tensor& down, const Vec& x, int64_t f_row0 = 0,
               int64_t n_ff = -1, int64_t e_row0 = 0, int64_t n_embd = -1);

// RoPE. freqs[i] is the angle per position of pair i (d/2 of them).
Vec rope_freqs(int64_t d, double theta);  // freq_i = θ^(−2i/d)
// Adjacent pairs (x[2i], x[2i+1]) — llama GGUF, DeepSeek MLA.
void rope_adjacent(double* x, const Vec& freqs, int64_t pos);
// Half-split pairs (x[i], x[i + d/2]) — NEOX layout, qwen2.
void rope_half_split(double* x, const Vec& freqs, int64_t pos);

// YaRN (arXiv 2309.00071 §3; DeepSeek-V3 inference/model.py precompute_freqs_cis).
struct Yarn {
  double factor = 1.0, orig_ctx = 4096.0, beta_fast = 32.0, beta_slow = 1.0, mscale_all_dim = 0.0;
};
struct YarnRange { double low, high; };
YarnRange yarn_range(int64_t d, double theta, const Yarn& y);
Vec yarn_freqs(int64_t d, double theta, const Yarn& y);
// m = 1 + 0.1·mscale_all_dim·ln(factor) (1 if factor <= 1); the softmax scale gets m².
double yarn_mscale(const Yarn& y);

// Causal attention for one head: o[t] = Σ_{s<=t} softmax_s(q[t]·k[s]·scale) v[s].
std::vector<Vec> causal_attention(const std::vector<Vec>& q, const std::vector<Vec>& k, const std::vector<Vec>& v,
                                  double scale);

// DeepSeekMoE gate (DeepSeek-V3 inference/model.py class Gate; DEEPSEEK_NOTES.md "Routing").
struct RouteParams {
  bool sigmoid = false;     // expert_gating_func 2: sigmoid, 1: softmax
  int64_t n_group = 1, n_group_used = 1, n_used = 1;
  bool norm = false;        // expert_weights_norm
  double scale = 1.0;       // expert_weights_scale
};
struct Routing {
  std::vector<int64_t> experts;  // chosen experts, best first
  Vec weights;                   // their weights
};
// `bias` empty = no score-correction bias (and group score = max, V2); otherwise
// the bias only chooses (noaux_tc, group score = sum of the top-2). Ties: lower index wins.
Routing route(const Vec& router_logits, const Vec& bias, const RouteParams& p);

}  // namespace dseek::reference
