// Float64 reference forward for `llama` and `qwen2` GGUF files (Llama 2/3,
// R1-Distill-Llama/Qwen): pre-norm GQA attention with RoPE, SwiGLU MLP, optional
// q/k/v biases (qwen2) and a tied head. RoPE pairs are adjacent for llama (GGUF
// conversion permutes q/k so this holds) and half-split (NEOX) for qwen2.
// Written from the Llama paper (arXiv 2302.13971) and GQA (arXiv 2305.13245); not src/model.
#include <cmath>

#include "reference/ref_math.h"

namespace dseek::reference {
namespace {

struct Hp {
  int64_t E, V, n_layer, H, H_kv, d, n_rot, n_ff;
  double theta, eps;
  bool qwen2;
};

Hp read_hparams(WeightReader& r, bool qwen2) {
  Hp h{};
  h.qwen2 = qwen2;
  h.E = r.integer("embedding_length");
  h.n_layer = r.integer("block_count");
  h.H = r.integer("attention.head_count");
  h.H_kv = r.integer("attention.head_count_kv", h.H);
  h.n_ff = r.integer("feed_forward_length");
  h.d = h.H > 0 ? r.integer("attention.key_length", h.E / h.H) : 0;
  h.n_rot = r.integer("rope.dimension_count", h.d);
  h.theta = r.real("rope.freq_base", 10000.0);
  h.eps = r.real("attention.layer_norm_rms_epsilon", 1e-5);
  if (const auto* emb = r.file().find_tensor("token_embd.weight"); emb && emb->ne.size() == 2) h.V = emb->ne[1];
  else r.fail("missing tensor 'token_embd.weight' (or it is not a matrix)");
  if (r.ok() && (h.H <= 0 || h.H_kv <= 0 || h.H % h.H_kv || h.d <= 0 || h.n_rot % 2 || h.n_rot > h.d))
    r.fail("implausible head counts / head or rope dimensions");
  return h;
}

struct Layer {
  Tensor attn_norm, wq, wk, wv, bq, bk, bv, wo, ffn_norm, gate, up, down;
};

Layer load_layer(WeightReader& r, const Hp& h, int64_t l) {
  const std::string b = "blk." + std::to_string(l) + ".";
  Layer w;
  w.attn_norm = r.tensor(b + "attn_norm.weight", {h.E});
  w.wq = r.tensor(b + "attn_q.weight", {h.E, h.H * h.d});
  w.wk = r.tensor(b + "attn_k.weight", {h.E, h.H_kv * h.d});
  w.wv = r.tensor(b + "attn_v.weight", {h.E, h.H_kv * h.d});
  if (h.qwen2) {  // qwen2: biases after the q/k/v projections
    w.bq = r.tensor(b + "attn_q.bias", {h.H * h.d});
    w.bk = r.tensor(b + "attn_k.bias", {h.H_kv * h.d});
    w.bv = r.tensor(b + "attn_v.bias", {h.H_kv * h.d});
  }
  w.wo = r.tensor(b + "attn_output.weight", {h.H * h.d, h.E});
  w.ffn_norm = r.tensor(b + "ffn_norm.weight", {h.E});
  w.gate = r.tensor(b + "ffn_gate.weight", {h.E, h.n_ff});
  w.up = r.tensor(b + "ffn_up.weight", {h.E, h.n_ff});
  w.down = r.tensor(b + "ffn_down.weight", {h.n_ff, h.E});
  return w;
}

Vec project(const Tensor& w, const Tensor& bias, const Vec& x) {
  Vec y = linear(w, x);
  if (!bias.empty())
    for (size_t i = 0; i < y.size(); ++i) y[i] += bias.data[i];
  return y;
}

// Slice head `hd` (d values) out of a [heads·d] vector, RoPE'd at `pos` if freqs is non-empty.
Vec head_slice(const Vec& v, const Hp& h, int64_t hd, const Vec* freqs, int64_t pos) {
  Vec s(v.begin() + hd * h.d, v.begin() + (hd + 1) * h.d);
  if (freqs) (h.qwen2 ? rope_half_split : rope_adjacent)(s.data(), *freqs, pos);  // first n_rot dims
  return s;
}

// GQA: query head hd reads kv head hd / (H / H_kv); scale d^-0.5.
std::vector<Vec> attention(const Layer& w, const Hp& h, const std::vector<Vec>& xn) {
  const size_t T = xn.size();
  const Vec freqs = rope_freqs(h.n_rot, h.theta);
  std::vector<Vec> q(T), k(T), v(T);
  for (size_t t = 0; t < T; ++t) {
    q[t] = project(w.wq, w.bq, xn[t]);
    k[t] = project(w.wk, w.bk, xn[t]);
    v[t] = project(w.wv, w.bv, xn[t]);
  }
  std::vector<Vec> concat(T);
  for (int64_t hd = 0; hd < h.H; ++hd) {
    const int64_t kvh = hd / (h.H / h.H_kv);
    std::vector<Vec> qh(T), kh(T), vh(T);
    for (size_t t = 0; t < T; ++t) {
      qh[t] = head_slice(q[t], h, hd, &freqs, static_cast<int64_t>(t));
      kh[t] = head_slice(k[t], h, kvh, &freqs, static_cast<int64_t>(t));
      vh[t] = head_slice(v[t], h, kvh, nullptr, 0);
    }
    const auto o = causal_attention(qh, kh, vh, 1.0 / std::sqrt(static_cast<double>(h.d)));
    for (size_t t = 0; t < T; ++t) concat[t].insert(concat[t].end(), o[t].begin(), o[t].end());
  }
  std::vector<Vec> out(T);
  for (size_t t = 0; t < T; ++t) out[t] = linear(w.wo, concat[t]);
  return out;
}

}  // namespace

Result<Vec> llama_forward_logits(WeightReader& r, const std::vector<int32_t>& tokens, bool qwen2) {
  const Hp h = read_hparams(r, qwen2);
  if (!r.ok()) return r.status();
  if (tokens.empty()) return Status::error("reference: empty token list");
  for (int32_t t : tokens)
    if (t < 0 || t >= h.V) return Status::error("reference: token id " + std::to_string(t) + " outside vocabulary of " + std::to_string(h.V));
  const Tensor emb = r.tensor("token_embd.weight", {h.E, h.V});
  const bool tied = !r.has_tensor("output.weight");  // no output.weight: the head is token_embd
  const Tensor output = tied ? Tensor{} : r.tensor("output.weight", {h.E, h.V});
  const Tensor out_norm = r.tensor("output_norm.weight", {h.E});
  if (!r.ok()) return r.status();
  std::vector<Vec> x;
  for (int32_t t : tokens) x.emplace_back(emb.row(t), emb.row(t) + h.E);
  for (int64_t l = 0; l < h.n_layer; ++l) {
    const Layer w = load_layer(r, h, l);
    if (!r.ok()) return r.status();
    std::vector<Vec> xn(x.size());
    for (size_t t = 0; t < x.size(); ++t) xn[t] = rms_norm(x[t], w.attn_norm, h.eps);
    const std::vector<Vec> a = attention(w, h, xn);
    for (size_t t = 0; t < x.size(); ++t) {  // h = x + Attn(norm(x)); out = h + MLP(norm(h))
      for (size_t i = 0; i < x[t].size(); ++i) x[t][i] += a[t][i];
      const Vec f = swiglu_mlp(w.gate, w.up, w.down, rms_norm(x[t], w.ffn_norm, h.eps));
      for (size_t i = 0; i < x[t].size(); ++i) x[t][i] += f[i];
    }
  }
  Vec logits;
  for (const Vec& v : x) {
    const Vec l = linear(tied ? emb : output, rms_norm(v, out_norm, h.eps));
    logits.insert(logits.end(), l.begin(), l.end());
  }
  return logits;
}

}  // namespace dseek::reference
