// See deepseek_v4_ref.h. Every equation is docs/design/deepseek-v4.md §2 in
// float64 with plain loops: mHC (§2.2), sliding-window attention with sinks,
// partial interleaved RoPE, per-head q RMSNorm, K = V and the grouped output
// (§2.3), the sqrt-softplus MoE with hash-routed first layers and the SwiGLU
// clamp (§2.6), the final head collapse. Compressed layers (§2.4-2.5): every
// query recomputes the entries it sees from the raw rows (v4_compressor_ref),
// HCA attends to all of them, CSA to the indexer's choice; every rotation in
// such a layer uses the compressed base with YaRN.
#include "reference/deepseek_v4_ref.h"

#include <algorithm>
#include <cmath>

#include "reference/ref_math.h"
#include "reference/ref_weights.h"
#include "reference/v4_compressor_ref.h"

namespace dseek::reference {
namespace {

struct V4Hp {
  int64_t E, V, L, H, d, r, Cq, G, R, W, n, iters, X, K, Fe, n_shared, n_hash;
  double hc_eps, eps, theta, scale, limit;
  bool norm;
  std::vector<int64_t> ratio;  // per layer: 0 sliding, 4 CSA, else HCA
  int64_t idx_heads, idx_dim, idx_topk;
  Vec compressed_freqs;  // compressed layers: compress_rope_freq_base with YaRN
};

V4Hp read_hp(WeightReader& r, const V4RefOptions& opt) {
  V4Hp h{};
  h.L = r.integer("block_count") - r.integer("nextn_predict_layers", 0);
  h.E = r.integer("embedding_length"), h.V = r.integer("vocab_size"), h.H = r.integer("attention.head_count");
  h.d = r.integer("attention.key_length"), h.r = r.integer("rope.dimension_count", 64);
  h.Cq = r.integer("attention.q_lora_rank"), h.G = r.integer("attention.output_group_count");
  h.R = r.integer("attention.output_lora_rank"), h.W = r.integer("attention.sliding_window", 128);
  h.n = r.integer("hyper_connection.count", 4), h.iters = r.integer("hyper_connection.sinkhorn_iterations", 20);
  h.hc_eps = r.real("hyper_connection.epsilon", 1e-6), h.eps = r.real("attention.layer_norm_rms_epsilon", 1e-6);
  h.theta = r.real("rope.freq_base", 10000.0);
  h.X = r.integer("expert_count"), h.K = r.integer("expert_used_count"), h.Fe = r.integer("expert_feed_forward_length");
  h.n_shared = r.integer("expert_shared_count", 1), h.n_hash = r.integer("hash_layer_count", 0);
  h.scale = r.real("expert_weights_scale", 1.0), h.limit = r.real("swiglu_clamp_exp", 0.0);
  h.norm = r.boolean("expert_weights_norm", true);
  if (opt.sinkhorn_iters > 0) h.iters = opt.sinkhorn_iters;
  if (opt.hc_eps >= 0) h.hc_eps = opt.hc_eps;
  h.ratio.assign(static_cast<size_t>(h.L), 0);
  const GgufValue* ratios = r.file().find("deepseek4.attention.compress_ratios");
  if (const GgufArray* a = ratios ? ratios->to_array() : nullptr)
    for (int64_t l = 0; l < h.L && l < static_cast<int64_t>(a->size()); ++l)
      h.ratio[static_cast<size_t>(l)] = (*a)[static_cast<size_t>(l)].to_int().value_or(-1);
  const bool any_csa = std::find(h.ratio.begin(), h.ratio.end(), 4) != h.ratio.end();
  h.idx_heads = any_csa ? r.integer("attention.indexer.head_count") : 0;
  h.idx_dim = any_csa ? r.integer("attention.indexer.key_length") : 0;
  h.idx_topk = any_csa ? r.integer("attention.indexer.top_k") : 0;
  const double ctheta = r.real("attention.compress_rope_freq_base", 160000.0);
  if (r.string("rope.scaling.type", "") == "yarn") {
    const Yarn y{r.real("rope.scaling.factor", 1.0), static_cast<double>(r.integer("rope.scaling.original_context_length")),
                 r.real("rope.scaling.yarn_beta_fast", 32.0), r.real("rope.scaling.yarn_beta_slow", 1.0), 0.0};
    h.compressed_freqs = yarn_freqs(h.r, ctheta, y);
  } else {
    h.compressed_freqs = rope_freqs(h.r, ctheta);
  }
  return h;
}

struct Hc { Tensor fn, base, scale; };
struct Layer {
  Hc hc_attn, hc_ffn;
  Tensor attn_norm, q_a, q_norm, q_b, kv, kv_norm, sinks, o_a, o_b;
  Tensor ffn_norm, router, bias, tid2eid, gate, up, down, sh_gate, sh_up, sh_down;
  int64_t ratio = 0;
  V4CompressorRef comp;  // ratio > 0
  V4IndexerRef index;    // ratio 4 (CSA)
  Tensor mtp_e, mtp_h, mtp_enorm, mtp_hnorm, mtp_norm;  // the MTP block only
  Hc mtp_head;
};
struct Weights {
  Tensor embd, out_norm, out;
  Hc head;
  std::vector<Layer> layers;
};

Hc load_hc(WeightReader& r, const std::string& p, int64_t nE, int64_t rows, int64_t n_scale) {
  return {r.tensor(p + "_fn.weight", {nE, rows}), r.tensor(p + "_base.weight", {rows}), r.tensor(p + "_scale.weight", {n_scale})};
}

Mat rows_of(const Tensor& t) {
  Mat m;
  for (int64_t i = 0; i < t.rows(); ++i) m.emplace_back(t.row(i), t.row(i) + t.cols());
  return m;
}

// A compressor's tensors under `p` ("attn_compressor" / "indexer_compressor"), c·d = width.
V4CompressorRef load_compressor(WeightReader& r, const V4Hp& h, const std::string& p, int64_t ratio, int64_t d) {
  const bool overlap = ratio == 4;
  const int64_t cd = overlap ? 2 * d : d;
  V4CompressorRef c{.ratio = ratio, .dim = d, .d_rope = h.r, .overlap = overlap, .eps = h.eps};
  c.wkv = rows_of(r.tensor(p + "_kv.weight", {h.E, cd}));
  c.wgate = rows_of(r.tensor(p + "_gate.weight", {h.E, cd}));
  c.ape = rows_of(r.tensor(p + "_ape.weight", {cd, ratio}));
  c.norm = r.tensor(p + "_norm.weight", {d}).data;
  c.freqs = h.compressed_freqs;
  return c;
}

void load_compressed(WeightReader& r, const V4Hp& h, const std::string& b, Layer& w) {
  w.comp = load_compressor(r, h, b + "attn_compressor", w.ratio, h.d);
  if (w.ratio != 4) return;
  V4IndexerRef& ix = w.index;
  ix.n_head = h.idx_heads, ix.head_dim = h.idx_dim, ix.d_rope = h.r, ix.topk = h.idx_topk;
  ix.wq_b = rows_of(r.tensor(b + "indexer.attn_q_b.weight", {h.Cq, h.idx_heads * h.idx_dim}));
  ix.proj = rows_of(r.tensor(b + "indexer.proj.weight", {h.E, h.idx_heads}));
  ix.keys = load_compressor(r, h, b + "indexer_compressor", 4, h.idx_dim);
  ix.keys.hadamard = true;
}

Layer load_layer(WeightReader& r, const V4Hp& h, int64_t l) {
  const std::string b = "blk." + std::to_string(l) + ".";
  const int64_t nE = h.n * h.E, mix = (2 + h.n) * h.n;
  Layer w;
  w.hc_attn = load_hc(r, b + "hc_attn", nE, mix, 3);
  w.hc_ffn = load_hc(r, b + "hc_ffn", nE, mix, 3);
  w.attn_norm = r.tensor(b + "attn_norm.weight", {h.E});
  w.q_a = r.tensor(b + "attn_q_a.weight", {h.E, h.Cq});
  w.q_norm = r.tensor(b + "attn_q_a_norm.weight", {h.Cq});
  w.q_b = r.tensor(b + "attn_q_b.weight", {h.Cq, h.H * h.d});
  w.kv = r.tensor(b + "attn_kv.weight", {h.E, h.d});
  w.kv_norm = r.tensor(b + "attn_kv_a_norm.weight", {h.d});
  w.sinks = r.tensor(b + "attn_sinks.weight", {h.H});
  w.o_a = r.tensor(b + "attn_output_a.weight", {h.H * h.d / h.G, h.G * h.R});
  w.o_b = r.tensor(b + "attn_output_b.weight", {h.G * h.R, h.E});
  w.ratio = l < h.L ? h.ratio[static_cast<size_t>(l)] : 0;  // the MTP block is sliding-only
  if (w.ratio > 0) load_compressed(r, h, b, w);
  w.ffn_norm = r.tensor(b + "ffn_norm.weight", {h.E});
  w.router = r.tensor(b + "ffn_gate_inp.weight", {h.E, h.X});
  if (l < h.n_hash && l < h.L) w.tid2eid = r.tensor(b + "ffn_gate_tid2eid.weight", {h.K, h.V});
  else w.bias = r.tensor(b + "exp_probs_b.bias", {h.X});
  w.gate = r.tensor(b + "ffn_gate_exps.weight", {h.E, h.Fe, h.X});
  w.up = r.tensor(b + "ffn_up_exps.weight", {h.E, h.Fe, h.X});
  w.down = r.tensor(b + "ffn_down_exps.weight", {h.Fe, h.E, h.X});
  if (h.n_shared > 0) {
    w.sh_gate = r.tensor(b + "ffn_gate_shexp.weight", {h.E, h.Fe * h.n_shared});
    w.sh_up = r.tensor(b + "ffn_up_shexp.weight", {h.E, h.Fe * h.n_shared});
    w.sh_down = r.tensor(b + "ffn_down_shexp.weight", {h.Fe * h.n_shared, h.E});
  }
  return w;
}

using Streams = std::vector<Vec>;  // n streams of E

// mix = fn · flatten(X) / sqrt(mean(X²) + eps): RMSNorm without weight, then the projection.
Vec hc_mix(const Hc& w, const Streams& x, double eps) {
  Vec f;
  for (const Vec& s : x) f.insert(f.end(), s.begin(), s.end());
  double ss = 0;
  for (double v : f) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(f.size()) + eps);
  Vec mix = matvec(w.fn, f);
  for (double& m : mix) m *= inv;
  return mix;
}

Vec weighted_streams(const Vec& pre, const Streams& x) {
  Vec y(x[0].size(), 0.0);
  for (size_t j = 0; j < x.size(); ++j)
    for (size_t i = 0; i < y.size(); ++i) y[i] += pre[j] * x[j][i];
  return y;
}

// Sinkhorn-Knopp as DeepSeek orders it: row softmax, + eps, a column
// normalisation, then (iters - 1) x (row, column); each divides by (sum + eps).
std::vector<Vec> sinkhorn(std::vector<Vec> c, int64_t iters, double eps) {
  const size_t n = c.size();
  for (Vec& row : c) {
    softmax_in_place(row);
    for (double& v : row) v += eps;
  }
  auto cols = [&] {
    for (size_t k = 0; k < n; ++k) {
      double s = 0;
      for (size_t j = 0; j < n; ++j) s += c[j][k];
      for (size_t j = 0; j < n; ++j) c[j][k] /= s + eps;
    }
  };
  cols();
  for (int64_t it = 1; it < iters; ++it) {
    for (Vec& row : c) {
      double s = 0;
      for (double v : row) s += v;
      for (double& v : row) v /= s + eps;
    }
    cols();
  }
  return c;
}

// One sub-block F wrapped in its hyper-connection, in place over the streams.
template <class F>
void hyper_connected(const Hc& w, const V4Hp& h, Streams& x, F&& block) {
  const size_t n = x.size();
  const Vec mix = hc_mix(w, x, h.eps);
  Vec pre(n), post(n);
  std::vector<Vec> logits(n, Vec(n));
  for (size_t j = 0; j < n; ++j) {
    pre[j] = sigmoid(mix[j] * w.scale.data[0] + w.base.data[j]) + h.hc_eps;
    post[j] = 2.0 * sigmoid(mix[n + j] * w.scale.data[1] + w.base.data[n + j]);
    for (size_t k = 0; k < n; ++k) logits[j][k] = mix[2 * n + j * n + k] * w.scale.data[2] + w.base.data[2 * n + j * n + k];
  }
  const std::vector<Vec> c = sinkhorn(logits, h.iters, h.hc_eps);
  const Vec out = block(weighted_streams(pre, x));
  Streams next(n, Vec(x[0].size()));
  for (size_t k = 0; k < n; ++k)
    for (size_t i = 0; i < out.size(); ++i) {
      double s = post[k] * out[i];
      for (size_t j = 0; j < n; ++j) s += c[j][k] * x[j][i];
      next[k][i] = s;
    }
  x = std::move(next);
}

// Interleaved RoPE on the last r channels of a head; sign -1 rotates back.
void rope_tail(double* head, const V4Hp& h, const Vec& freqs, int64_t pos, double sign) {
  double* t = head + (h.d - h.r);
  for (int64_t i = 0; i < h.r / 2; ++i) {
    const double a = sign * static_cast<double>(pos) * freqs[static_cast<size_t>(i)];
    const double x0 = t[2 * i], x1 = t[2 * i + 1];
    t[2 * i] = x0 * std::cos(a) - x1 * std::sin(a);
    t[2 * i + 1] = x0 * std::sin(a) + x1 * std::cos(a);
  }
}

Vec plain_rms(Vec v, double eps) {
  double ss = 0;
  for (double x : v) ss += x * x;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(v.size()) + eps);
  for (double& x : v) x *= inv;
  return v;
}

// Attention of position t over the window of keys [max(0, t-W+1), t] (keys:
// the layer's, rotated) followed by `extra`, the compressed entries t sees
// (none on sliding-window layers: the seam where the CSA / HCA reference plugs in).
Vec attention(const Layer& w, const V4Hp& h, const V4RefOptions& opt, const Vec& x, const std::vector<Vec>& keys,
              int64_t t, const Vec& freqs, const std::vector<Vec>& extra = {}) {
  const Vec q_lat = rms_norm(linear(w.q_a, x), w.q_norm, h.eps);
  const Vec q_all = linear(w.q_b, q_lat);
  Vec o(static_cast<size_t>(h.H * h.d), 0.0);
  std::vector<const Vec*> seen;
  for (int64_t s = std::max<int64_t>(0, t - h.W + 1); s <= t; ++s) seen.push_back(&keys[static_cast<size_t>(s)]);
  for (const Vec& e : extra) seen.push_back(&e);
  for (int64_t hd = 0; hd < h.H; ++hd) {
    Vec q = plain_rms(Vec(q_all.begin() + hd * h.d, q_all.begin() + (hd + 1) * h.d), h.eps);
    rope_tail(q.data(), h, freqs, t, 1.0);
    Vec a;
    for (const Vec* k : seen) {
      double dot = 0;
      for (int64_t i = 0; i < h.d; ++i) dot += q[static_cast<size_t>(i)] * (*k)[static_cast<size_t>(i)];
      a.push_back(dot / std::sqrt(static_cast<double>(h.d)));
    }
    const double sink = w.sinks.data[static_cast<size_t>(hd)];
    double mx = opt.drop_sinks ? -1e300 : sink, denom = 0;
    for (double v : a) mx = std::max(mx, v);
    for (double& v : a) denom += (v = std::exp(v - mx));
    if (!opt.drop_sinks) denom += std::exp(sink - mx);
    double* oh = o.data() + hd * h.d;
    for (size_t j = 0; j < seen.size(); ++j)
      for (int64_t i = 0; i < h.d; ++i) oh[i] += a[j] / denom * (*seen[j])[static_cast<size_t>(i)];
    rope_tail(oh, h, freqs, t, -1.0);
  }
  const int64_t gw = h.H * h.d / h.G;
  Vec u;
  for (int64_t g = 0; g < h.G; ++g) {
    const Vec part(o.begin() + g * gw, o.begin() + (g + 1) * gw);
    const Vec ug = linear(w.o_a, part, g * h.R, h.R);
    u.insert(u.end(), ug.begin(), ug.end());
  }
  return linear(w.o_b, u);
}

// DeepSeek's SwiGLU with the clamp: gate <= L (upper bound only), |up| <= L;
// DeepSeek's inference code applies it to the shared expert too (design note §2.6).
Vec clamped_swiglu(const Tensor& gate, const Tensor& up, const Tensor& down, const Vec& x, int64_t f0, int64_t nf,
                   int64_t e0, int64_t ne, const V4Hp& h, const V4RefOptions& opt) {
  Vec a = linear(gate, x, f0, nf), b = linear(up, x, f0, nf);
  for (size_t i = 0; i < a.size(); ++i) {
    if (h.limit > 0) {
      a[i] = opt.symmetric_gate_clamp ? std::clamp(a[i], -h.limit, h.limit) : std::min(a[i], h.limit);
      b[i] = std::clamp(b[i], -h.limit, h.limit);
    }
    a[i] = silu(a[i]) * b[i];
  }
  return linear(down, a, e0, ne);
}

Vec moe(const Layer& w, const V4Hp& h, const V4RefOptions& opt, const Vec& x, int32_t token) {
  const Vec logits = linear(w.router, x);
  Vec score(logits.size());
  for (size_t e = 0; e < score.size(); ++e) score[e] = std::sqrt(std::log1p(std::exp(logits[e])));
  std::vector<int64_t> chosen;
  if (!w.tid2eid.empty()) {
    for (int64_t k = 0; k < h.K; ++k) chosen.push_back(static_cast<int64_t>(w.tid2eid.row(token)[k]));
  } else {
    std::vector<int64_t> order(static_cast<size_t>(h.X));
    for (int64_t e = 0; e < h.X; ++e) order[static_cast<size_t>(e)] = e;
    auto sel = [&](int64_t e) { return score[static_cast<size_t>(e)] + w.bias.data[static_cast<size_t>(e)]; };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return sel(a) > sel(b); });
    chosen.assign(order.begin(), order.begin() + h.K);
  }
  double sum = 0;
  for (int64_t e : chosen) sum += score[static_cast<size_t>(e)];
  Vec y = h.n_shared > 0 ? clamped_swiglu(w.sh_gate, w.sh_up, w.sh_down, x, 0, -1, 0, -1, h, opt) : Vec(x.size(), 0.0);
  for (int64_t e : chosen) {
    const double g = score[static_cast<size_t>(e)] / (h.norm ? sum : 1.0) * h.scale;
    const Vec o = clamped_swiglu(w.gate, w.up, w.down, x, e * h.Fe, h.Fe, e * h.E, h.E, h, opt);
    for (size_t i = 0; i < y.size(); ++i) y[i] += g * o[i];
  }
  return y;
}

// The compressed entries position t attends to besides its window: none
// (sliding), every visible one (HCA) or the indexer's choice (CSA).
std::vector<Vec> compressed_keys(const Layer& w, const Mat& attn_in, const Mat& q_lora, int64_t t) {
  if (w.ratio == 0) return {};
  Mat entries = v4_entries_ref(w.comp, attn_in, t);
  if (w.ratio != 4) return entries;
  std::vector<Vec> picked;
  for (int32_t e : v4_selected_ref(w.index, attn_in, q_lora, t)) picked.push_back(entries[static_cast<size_t>(e)]);
  return picked;
}

// One block over every position's streams (positions 0.., the whole prompt).
void run_block(const Layer& lw, const V4Hp& h, const V4RefOptions& opt, std::vector<Streams>& x,
               const std::vector<int32_t>& tokens) {
  const Vec main_freqs = rope_freqs(h.r, h.theta);  // sliding-only layers: the main base, no YaRN
  const Vec& freqs = lw.ratio > 0 ? h.compressed_freqs : main_freqs;
  const int64_t T = static_cast<int64_t>(x.size());
  std::vector<Vec> keys(static_cast<size_t>(T));
  std::vector<Vec> attn_in(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {  // keys of all positions first (a query sees only its window)
    Streams probe = x[static_cast<size_t>(t)];
    hyper_connected(lw.hc_attn, h, probe, [&](const Vec& y) {
      attn_in[static_cast<size_t>(t)] = rms_norm(y, lw.attn_norm, h.eps);
      Vec k = rms_norm(linear(lw.kv, attn_in[static_cast<size_t>(t)]), lw.kv_norm, h.eps);
      rope_tail(k.data(), h, freqs, t, 1.0);
      keys[static_cast<size_t>(t)] = k;
      return Vec(static_cast<size_t>(h.E), 0.0);
    });
  }
  Mat q_lora;  // the indexer's query latent per position
  for (int64_t t = 0; lw.ratio == 4 && t < T; ++t)
    q_lora.push_back(rms_norm(linear(lw.q_a, attn_in[static_cast<size_t>(t)]), lw.q_norm, h.eps));
  for (int64_t t = 0; t < T; ++t) {
    Streams& xt = x[static_cast<size_t>(t)];
    const std::vector<Vec> extra = compressed_keys(lw, attn_in, q_lora, t);
    hyper_connected(lw.hc_attn, h, xt, [&](const Vec& y) {
      return attention(lw, h, opt, rms_norm(y, lw.attn_norm, h.eps), keys, t, freqs, extra);
    });
    hyper_connected(lw.hc_ffn, h, xt, [&](const Vec& y) {
      return moe(lw, h, opt, rms_norm(y, lw.ffn_norm, h.eps), tokens[static_cast<size_t>(t)]);
    });
  }
}

// The head: streams collapsed by `hc` (sigmoid weights + eps), `norm`, the output projection.
Vec head_logits(const Hc& hc, const Tensor& norm, const Tensor& out, const V4Hp& h, const Streams& xt) {
  const Vec mix = hc_mix(hc, xt, h.eps);
  Vec pre(static_cast<size_t>(h.n));
  for (int64_t j = 0; j < h.n; ++j)
    pre[static_cast<size_t>(j)] = sigmoid(mix[static_cast<size_t>(j)] * hc.scale.data[0] + hc.base.data[static_cast<size_t>(j)]) + h.hc_eps;
  return linear(out, rms_norm(weighted_streams(pre, xt), norm, h.eps));
}

struct Trunk {
  V4Hp h;
  Weights w;
  std::vector<Streams> x;  // every position's streams after the last layer
};

Result<Trunk> run_trunk(const std::string& gguf_path, const std::vector<int32_t>& tokens, const V4RefOptions& opt,
                        bool with_mtp, Layer* mtp) {
  auto f = GgufFile::open(gguf_path);
  if (!f.ok()) return f.status();
  WeightReader r(std::move(f).value(), "deepseek4.");
  Trunk tr{read_hp(r, opt), {}, {}};
  const V4Hp& h = tr.h;
  if (!r.ok()) return r.status();
  Weights& w = tr.w;
  w.embd = r.tensor("token_embd.weight", {h.E, h.V});
  w.out_norm = r.tensor("output_norm.weight", {h.E});
  w.out = r.tensor("output.weight", {h.E, h.V});
  w.head = load_hc(r, "output_hc", h.n * h.E, h.n, 1);
  for (int64_t l = 0; l < h.L; ++l) w.layers.push_back(load_layer(r, h, l));
  if (with_mtp) {
    const std::string b = "blk." + std::to_string(h.L) + ".nextn.";
    *mtp = load_layer(r, h, h.L);
    mtp->mtp_e = r.tensor(b + "e_proj.weight", {h.E, h.E}), mtp->mtp_h = r.tensor(b + "h_proj.weight", {h.E, h.E});
    mtp->mtp_enorm = r.tensor(b + "enorm.weight", {h.E}), mtp->mtp_hnorm = r.tensor(b + "hnorm.weight", {h.E});
    mtp->mtp_norm = r.tensor(b + "norm.weight", {h.E});
    mtp->mtp_head = load_hc(r, b + "hc_head", h.n * h.E, h.n, 1);
  }
  if (!r.ok()) return r.status();
  const int64_t T = static_cast<int64_t>(tokens.size());
  for (int64_t t = 0; t < T; ++t) {
    const double* e = w.embd.row(tokens[static_cast<size_t>(t)]);
    tr.x.push_back(Streams(static_cast<size_t>(h.n), Vec(e, e + h.E)));
  }
  for (const Layer& lw : w.layers) run_block(lw, h, opt, tr.x, tokens);
  return tr;
}

}  // namespace

Result<std::vector<double>> deepseek_v4_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens,
                                               const V4RefOptions& opt) {
  auto tr = run_trunk(gguf_path, tokens, opt, false, nullptr);
  if (!tr.ok()) return tr.status();
  std::vector<double> logits;
  for (const Streams& xt : tr->x) {
    const Vec out = head_logits(tr->w.head, tr->w.out_norm, tr->w.out, tr->h, xt);
    logits.insert(logits.end(), out.begin(), out.end());
  }
  return logits;
}

// §2.7: x_{i,k} = e_proj enorm(embed(t_{i+1})) + h_proj hnorm(X_{i,k}), one
// sliding block at positions 0..T-2, then the block's own head collapse and norm.
Result<std::vector<double>> deepseek_v4_mtp_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens) {
  Layer mtp;
  auto tr = run_trunk(gguf_path, tokens, {}, true, &mtp);
  if (!tr.ok()) return tr.status();
  const V4Hp& h = tr->h;
  const std::vector<int32_t> next(tokens.begin() + 1, tokens.end());
  std::vector<Streams> x;
  for (size_t i = 0; i < next.size(); ++i) {
    const double* e = tr->w.embd.row(next[i]);
    const Vec pe = linear(mtp.mtp_e, rms_norm(Vec(e, e + h.E), mtp.mtp_enorm, h.eps));
    Streams s;
    for (const Vec& stream : tr->x[i]) {
      Vec v = linear(mtp.mtp_h, rms_norm(stream, mtp.mtp_hnorm, h.eps));
      for (size_t j = 0; j < v.size(); ++j) v[j] += pe[j];
      s.push_back(std::move(v));
    }
    x.push_back(std::move(s));
  }
  run_block(mtp, h, {}, x, next);
  std::vector<double> logits;
  for (const Streams& xt : x) {
    const Vec out = head_logits(mtp.mtp_head, mtp.mtp_norm, tr->w.out, h, xt);
    logits.insert(logits.end(), out.begin(), out.end());
  }
  return logits;
}

}  // namespace dseek::reference
