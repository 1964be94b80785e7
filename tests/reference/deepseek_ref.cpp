// Float64 reference forward for `deepseek2` and `deepseek32` GGUF files (DeepSeek V2, V2-Lite, V3,
// R1, V3.1, V3.2): MLA attention in its naive (decompressed) form, V3.2's
// sparse attention (dsa_ref.h), DeepSeekMoE with group-limited routing, YaRN,
// and the V3 multi-token-prediction module.
// Written from DeepSeek-V3's paper (arXiv 2412.19437 §2.1-2.2), DeepSeek-V2's
// (arXiv 2405.04434 §2.1) and DEEPSEEK_NOTES.md; shares no code with src/model.
#include <cmath>

#include "reference/dsa_ref.h"
#include "reference/ref_math.h"

namespace dseek::reference {
namespace {

struct Hp {
  int64_t E, V, n_layer, n_mtp, H, q_lora, c_kv, d_nope, d_rope, d_v, n_dense, n_ff, X, n_shared, n_ff_exp;
  int64_t idx_heads, idx_dim, idx_topk;  // V3.2's indexer (0: none)
  RouteParams route;
  double theta, eps;
  bool yarn = false;
  Yarn y;
};

Hp read_hparams(WeightReader& r, const RefOptions& opt) {
  Hp h{};
  h.n_mtp = r.integer("nextn_predict_layers", 0);
  h.n_layer = r.integer("block_count") - h.n_mtp;  // llama.cpp counts nextn layers in block_count
  h.E = r.integer("embedding_length");
  h.H = r.integer("attention.head_count");
  h.q_lora = r.integer("attention.q_lora_rank", 0);  // absent: no query compression (V2-Lite)
  h.c_kv = r.integer("attention.kv_lora_rank");
  h.d_rope = r.integer("rope.dimension_count");
  const bool mla_keys = r.has_key("attention.key_length_mla");
  h.d_nope = r.integer(mla_keys ? "attention.key_length_mla" : "attention.key_length") - h.d_rope;
  h.d_v = r.integer(mla_keys ? "attention.value_length_mla" : "attention.value_length");
  h.n_dense = r.integer("leading_dense_block_count", 0);
  h.n_ff = r.integer("feed_forward_length", 0);
  h.X = r.integer("expert_count", 0);
  h.n_shared = r.integer("expert_shared_count", 0);
  h.n_ff_exp = r.integer("expert_feed_forward_length", 0);
  h.route = {.sigmoid = r.integer("expert_gating_func", 1) == 2,
             .n_group = r.integer("expert_group_count", 1),
             .n_group_used = r.integer("expert_group_used_count", 1),
             .n_used = r.integer("expert_used_count", 0),
             .norm = r.boolean("expert_weights_norm", false),
             .scale = r.real("expert_weights_scale", 1.0)};
  h.idx_heads = r.integer("attention.indexer.head_count", 0);
  h.idx_dim = r.integer("attention.indexer.key_length", 0);
  h.idx_topk = r.integer("attention.indexer.top_k", 0);
  h.theta = r.real("rope.freq_base", 10000.0);
  h.eps = r.real("attention.layer_norm_rms_epsilon", 1e-6);
  if (opt.use_yarn && r.string("rope.scaling.type", "") == "yarn") {
    h.yarn = true;
    h.y.factor = r.real("rope.scaling.factor", 1.0);
    h.y.orig_ctx = r.real("rope.scaling.original_context_length", 4096.0);
    h.y.mscale_all_dim = r.real("rope.scaling.yarn_log_multiplier", 0.0) / 0.1;  // GGUF stores 0.1·mscale_all_dim
  }
  if (const auto* emb = r.file().find_tensor("token_embd.weight"); emb && emb->ne.size() == 2) h.V = emb->ne[1];
  else r.fail("missing tensor 'token_embd.weight' (or it is not a matrix)");
  if (r.ok() && (h.n_layer <= 0 || h.E <= 0 || h.H <= 0 || h.d_rope % 2 || h.d_nope <= 0 || h.V <= 0))
    r.fail("implausible deepseek2 hyper-parameters");
  if (r.ok() && h.route.n_group > 0 && h.X % h.route.n_group) r.fail("expert_count is not a multiple of expert_group_count");
  return h;
}

struct Mla {
  Tensor q_a, q_a_norm, q_b, q, kv_a, kv_a_norm, k_b, v_b, kv_b, out;
  DsaRef dsa;
};

void load_indexer(WeightReader& r, const Hp& h, const std::string& b, DsaRef& w) {
  w.n_head = h.idx_heads, w.dim = h.idx_dim, w.topk = h.idx_topk, w.d_rope = h.d_rope;
  w.wq_b = r.tensor(b + "indexer.attn_q_b.weight", {h.q_lora, h.idx_heads * h.idx_dim});
  w.wk = r.tensor(b + "indexer.attn_k.weight", {h.E, h.idx_dim});
  w.k_norm = r.tensor(b + "indexer.k_norm.weight", {h.idx_dim});
  w.k_norm_bias = r.tensor(b + "indexer.k_norm.bias", {h.idx_dim});
  w.proj = r.tensor(b + "indexer.proj.weight", {h.E, h.idx_heads});
}

Mla load_mla(WeightReader& r, const Hp& h, const std::string& b) {
  Mla w;
  const int64_t Dq = h.d_nope + h.d_rope;
  if (h.q_lora > 0) {
    w.q_a = r.tensor(b + "attn_q_a.weight", {h.E, h.q_lora});
    w.q_a_norm = r.tensor(b + "attn_q_a_norm.weight", {h.q_lora});
    w.q_b = r.tensor(b + "attn_q_b.weight", {h.q_lora, h.H * Dq});
  } else {
    w.q = r.tensor(b + "attn_q.weight", {h.E, h.H * Dq});
  }
  w.kv_a = r.tensor(b + "attn_kv_a_mqa.weight", {h.E, h.c_kv + h.d_rope});
  w.kv_a_norm = r.tensor(b + "attn_kv_a_norm.weight", {h.c_kv});
  if (r.has_tensor(b + "attn_kv_b.weight")) {  // older files: one [H·(Dn+Dv)][Ckv] matrix
    w.kv_b = r.tensor(b + "attn_kv_b.weight", {h.c_kv, h.H * (h.d_nope + h.d_v)});
  } else {  // newer files: k_b [H][Ckv][Dn] (transposed), v_b [H][Dv][Ckv]
    w.k_b = r.tensor(b + "attn_k_b.weight", {h.d_nope, h.c_kv, h.H});
    w.v_b = r.tensor(b + "attn_v_b.weight", {h.c_kv, h.d_v, h.H});
  }
  w.out = r.tensor(b + "attn_output.weight", {h.H * h.d_v, h.E});
  if (h.idx_heads > 0) load_indexer(r, h, b, w.dsa);
  return w;
}

// Per-head key (nope part) and value from the normalised latent c (V2 paper eq. 10-11).
void decompress(const Mla& w, const Hp& h, const Vec& c, int64_t head, Vec& k_nope, Vec& v) {
  k_nope.assign(static_cast<size_t>(h.d_nope), 0.0);
  v.assign(static_cast<size_t>(h.d_v), 0.0);
  if (!w.kv_b.empty()) {
    const int64_t base = head * (h.d_nope + h.d_v);
    k_nope = matvec(w.kv_b, c, base, h.d_nope);
    v = matvec(w.kv_b, c, base + h.d_nope, h.d_v);
    return;
  }
  for (int64_t i = 0; i < h.d_nope; ++i)  // k_nope[i] = Σ_c k_b[head][c][i]·c[c]
    for (int64_t j = 0; j < h.c_kv; ++j)
      k_nope[static_cast<size_t>(i)] += w.k_b.data[static_cast<size_t>((head * h.c_kv + j) * h.d_nope + i)] * c[static_cast<size_t>(j)];
  v = matvec(w.v_b, c, head * h.d_v, h.d_v);  // v[j] = Σ_c v_b[head][j][c]·c[c]
}

Vec rope_table(const Hp& h) { return h.yarn ? yarn_freqs(h.d_rope, h.theta, h.y) : rope_freqs(h.d_rope, h.theta); }

// MLA over normalised inputs xn[t] (positions 0..T-1), naive form: returns attn_output·o per token.
std::vector<Vec> mla(const Mla& w, const Hp& h, const std::vector<Vec>& xn) {
  const size_t T = xn.size();
  const int64_t Dq = h.d_nope + h.d_rope;
  const Vec freqs = rope_table(h);
  const double m = h.yarn ? yarn_mscale(h.y) : 1.0;
  const double scale = m * m / std::sqrt(static_cast<double>(Dq));
  std::vector<std::vector<Vec>> q(static_cast<size_t>(h.H)), k(q.size()), v(q.size());  // [head][t]
  std::vector<Vec> q_lora(T);  // the normalised compressed queries (the indexer's input too)
  for (size_t t = 0; t < T; ++t) {
    if (h.q_lora > 0) q_lora[t] = rms_norm(linear(w.q_a, xn[t]), w.q_a_norm, h.eps);
    const Vec qt = h.q_lora > 0 ? linear(w.q_b, q_lora[t]) : linear(w.q, xn[t]);
    const Vec kv = linear(w.kv_a, xn[t]);
    const Vec c = rms_norm(Vec(kv.begin(), kv.begin() + h.c_kv), w.kv_a_norm, h.eps);  // rope part not normalised
    Vec k_rope(kv.begin() + h.c_kv, kv.end());  // one rope key shared by all heads
    rope_adjacent(k_rope.data(), freqs, static_cast<int64_t>(t));
    for (int64_t hd = 0; hd < h.H; ++hd) {
      Vec qh(qt.begin() + hd * Dq, qt.begin() + (hd + 1) * Dq);  // [nope | rope]
      rope_adjacent(qh.data() + h.d_nope, freqs, static_cast<int64_t>(t));
      Vec k_nope, vh;
      decompress(w, h, c, hd, k_nope, vh);
      k_nope.insert(k_nope.end(), k_rope.begin(), k_rope.end());  // key = [k_nope | k_rope]
      q[static_cast<size_t>(hd)].push_back(std::move(qh));
      k[static_cast<size_t>(hd)].push_back(std::move(k_nope));
      v[static_cast<size_t>(hd)].push_back(std::move(vh));
    }
  }
  std::vector<Vec> concat(T);
  // V3.2: every head attends to the keys the indexer selects (all causal keys up to index_topk of them).
  const auto selected = w.dsa.n_head > 0 ? dsa_select(w.dsa, xn, q_lora, freqs) : std::vector<std::vector<int64_t>>{};
  for (int64_t hd = 0; hd < h.H; ++hd) {
    const auto& qh = q[static_cast<size_t>(hd)];
    const auto& kh = k[static_cast<size_t>(hd)];
    const auto& vh = v[static_cast<size_t>(hd)];
    const auto o = selected.empty() ? causal_attention(qh, kh, vh, scale) : selected_attention(qh, kh, vh, scale, selected);
    for (size_t t = 0; t < T; ++t) concat[t].insert(concat[t].end(), o[t].begin(), o[t].end());
  }
  std::vector<Vec> out(T);
  for (size_t t = 0; t < T; ++t) out[t] = linear(w.out, concat[t]);
  return out;
}

struct Ffn {
  bool moe = false;
  Tensor gate, up, down;                       // dense layer
  Tensor router, bias, gate_x, up_x, down_x;   // routed experts (bias may be empty)
  Tensor gate_s, up_s, down_s;                 // shared experts (may be empty)
};

Ffn load_ffn(WeightReader& r, const Hp& h, const std::string& b, int64_t layer) {
  Ffn w;
  if (layer < h.n_dense) {
    w.gate = r.tensor(b + "ffn_gate.weight", {h.E, h.n_ff});
    w.up = r.tensor(b + "ffn_up.weight", {h.E, h.n_ff});
    w.down = r.tensor(b + "ffn_down.weight", {h.n_ff, h.E});
    return w;
  }
  w.moe = true;
  w.router = r.tensor(b + "ffn_gate_inp.weight", {h.E, h.X});
  if (r.has_tensor(b + "exp_probs_b.bias")) w.bias = r.tensor(b + "exp_probs_b.bias", {h.X});
  w.gate_x = r.tensor(b + "ffn_gate_exps.weight", {h.E, h.n_ff_exp, h.X});
  w.up_x = r.tensor(b + "ffn_up_exps.weight", {h.E, h.n_ff_exp, h.X});
  w.down_x = r.tensor(b + "ffn_down_exps.weight", {h.n_ff_exp, h.E, h.X});
  if (h.n_shared > 0) {
    const int64_t F = h.n_ff_exp * h.n_shared;  // the shared experts as one wider MLP
    w.gate_s = r.tensor(b + "ffn_gate_shexp.weight", {h.E, F});
    w.up_s = r.tensor(b + "ffn_up_shexp.weight", {h.E, F});
    w.down_s = r.tensor(b + "ffn_down_shexp.weight", {F, h.E});
  }
  if (r.ok() && (h.route.n_used <= 0 || h.route.n_used > h.X)) r.fail("expert_used_count out of range");
  return w;
}

// FFN(x) = shared(x) + Σ_k w_k·expert_{idx_k}(x) (V3 paper eq. 12-16), or a dense SwiGLU MLP.
Vec ffn(const Ffn& w, const Hp& h, const Vec& x) {
  if (!w.moe) return swiglu_mlp(w.gate, w.up, w.down, x);
  Vec y = w.gate_s.empty() ? Vec(static_cast<size_t>(h.E), 0.0) : swiglu_mlp(w.gate_s, w.up_s, w.down_s, x);
  const Routing r = route(linear(w.router, x), w.bias.data, h.route);
  for (size_t k = 0; k < r.experts.size(); ++k) {
    const int64_t e = r.experts[k];
    const Vec ye = swiglu_mlp(w.gate_x, w.up_x, w.down_x, x, e * h.n_ff_exp, h.n_ff_exp, e * h.E, h.E);
    for (size_t i = 0; i < y.size(); ++i) y[i] += r.weights[k] * ye[i];
  }
  return y;
}

// One pre-norm decoder layer over the whole sequence: h = x + Attn(norm(x)); out = h + FFN(norm(h)).
Result<std::vector<Vec>> decoder_layer(WeightReader& r, const Hp& h, int64_t layer, const std::vector<Vec>& x) {
  const std::string b = "blk." + std::to_string(layer) + ".";
  const Tensor attn_norm = r.tensor(b + "attn_norm.weight", {h.E});
  const Tensor ffn_norm = r.tensor(b + "ffn_norm.weight", {h.E});
  const Mla attn = load_mla(r, h, b);
  const Ffn mlp = load_ffn(r, h, b, layer);
  if (!r.ok()) return r.status();
  std::vector<Vec> xn(x.size());
  for (size_t t = 0; t < x.size(); ++t) xn[t] = rms_norm(x[t], attn_norm, h.eps);
  const std::vector<Vec> a = mla(attn, h, xn);
  std::vector<Vec> out(x.size());
  for (size_t t = 0; t < x.size(); ++t) {
    Vec hs = x[t];
    for (size_t i = 0; i < hs.size(); ++i) hs[i] += a[t][i];
    const Vec f = ffn(mlp, h, rms_norm(hs, ffn_norm, h.eps));
    for (size_t i = 0; i < hs.size(); ++i) hs[i] += f[i];
    out[t] = std::move(hs);
  }
  return out;
}

Status check_tokens(const Hp& h, const std::vector<int32_t>& tokens) {
  if (tokens.empty()) return Status::error("reference: empty token list");
  for (int32_t t : tokens)
    if (t < 0 || t >= h.V) return Status::error("reference: token id " + std::to_string(t) + " outside vocabulary of " + std::to_string(h.V));
  return ok_status();
}

Vec embed(const Tensor& emb, int32_t token) { return Vec(emb.row(token), emb.row(token) + emb.cols()); }

// The trunk: embeddings, n_layer decoder layers, output_norm. Returns normalised hidden states.
Result<std::vector<Vec>> trunk(WeightReader& r, const Hp& h, const Tensor& emb, const std::vector<int32_t>& tokens) {
  std::vector<Vec> x;
  for (int32_t t : tokens) x.push_back(embed(emb, t));
  for (int64_t l = 0; l < h.n_layer; ++l) {
    auto y = decoder_layer(r, h, l, x);
    if (!y.ok()) return y.status();
    x = std::move(y).value();
  }
  const Tensor norm = r.tensor("output_norm.weight", {h.E});
  if (!r.ok()) return r.status();
  for (Vec& v : x) v = rms_norm(v, norm, h.eps);
  return x;
}

Vec head(const Tensor& output, const std::vector<Vec>& hs) {
  Vec logits;
  for (const Vec& v : hs) {
    const Vec l = linear(output, v);
    logits.insert(logits.end(), l.begin(), l.end());
  }
  return logits;
}

}  // namespace

Result<Vec> deepseek_forward_logits(WeightReader& r, const std::vector<int32_t>& tokens, const RefOptions& opt) {
  const Hp h = read_hparams(r, opt);
  if (!r.ok()) return r.status();
  if (Status st = check_tokens(h, tokens); !st.ok()) return st;
  const Tensor emb = r.tensor("token_embd.weight", {h.E, h.V});
  const Tensor output = r.tensor("output.weight", {h.E, h.V});
  if (!r.ok()) return r.status();
  auto hs = trunk(r, h, emb, tokens);
  if (!hs.ok()) return hs.status();
  return head(output, *hs);
}

// MTP (V3 paper §2.2): x_i = eh_proj·[enorm(Emb(t_{i+1})) ; hnorm(h_i)], then layer n_layer over
// positions 0..T-2, then logits = output·shared_head_norm(x). Embedding and head shared with the trunk.
Result<Vec> deepseek_mtp_logits(WeightReader& r, const std::vector<int32_t>& tokens, const RefOptions& opt) {
  const Hp h = read_hparams(r, opt);
  if (!r.ok()) return r.status();
  if (h.n_mtp < 1) return Status::error(r.file().path() + ": no MTP layer (nextn_predict_layers is 0)");
  if (Status st = check_tokens(h, tokens); !st.ok()) return st;
  if (tokens.size() < 2) return Status::error("reference: MTP needs at least 2 tokens");
  const std::string b = "blk." + std::to_string(h.n_layer) + ".nextn.";
  const Tensor emb = r.tensor("token_embd.weight", {h.E, h.V});
  const Tensor output = r.tensor("output.weight", {h.E, h.V});
  const Tensor enorm = r.tensor(b + "enorm.weight", {h.E});
  const Tensor hnorm = r.tensor(b + "hnorm.weight", {h.E});
  const Tensor eh_proj = r.tensor(b + "eh_proj.weight", {2 * h.E, h.E});
  const Tensor shared_norm = r.tensor(b + "shared_head_norm.weight", {h.E});
  if (!r.ok()) return r.status();
  auto hs = trunk(r, h, emb, tokens);
  if (!hs.ok()) return hs.status();
  std::vector<Vec> x(tokens.size() - 1);
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    Vec cat = rms_norm(embed(emb, tokens[i + 1]), enorm, h.eps);  // embedding half first
    const Vec hn = rms_norm((*hs)[i], hnorm, h.eps);
    cat.insert(cat.end(), hn.begin(), hn.end());
    x[i] = linear(eh_proj, cat);
  }
  auto y = decoder_layer(r, h, h.n_layer, x);
  if (!y.ok()) return y.status();
  for (Vec& v : *y) v = rms_norm(v, shared_norm, h.eps);
  return head(output, *y);
}

}  // namespace dseek::reference
