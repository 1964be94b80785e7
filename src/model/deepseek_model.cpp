// The DeepSeek forward pass: embedding, L decoder layers of MLA attention and
// a dense or DeepSeekMoE feed-forward, final norm, output head; plus the V3
// multi-token-prediction module. Weights are bound in place from GGUF
// (llama.cpp `deepseek2` names, split attn_k_b/attn_v_b or joint attn_kv_b)
// or from a Hugging Face checkpoint (DeepSeek's names, FP8 with block scales).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/blocks/linear.h"
#include "model/blocks/mla.h"
#include "model/blocks/moe_routing.h"
#include "model/blocks/rope.h"
#include "model/deepseek.h"
#include "model/weight_binder.h"

namespace dseek {
namespace {

using kernels::MatrixView;

struct MoeWeights {
  MatrixView router;             // [X x E], scores in f32
  const float* bias = nullptr;   // e_score_correction_bias: selection only
  std::vector<MlpWeights> experts;
  bool has_shared = false;
  MlpWeights shared;
};

struct LayerWeights {
  const float* attn_norm = nullptr;
  const float* ffn_norm = nullptr;
  MlaWeights attn;
  bool dense = true;
  MlpWeights mlp;
  MoeWeights moe;
};

struct MtpWeights {
  const float *enorm = nullptr, *hnorm = nullptr, *head_norm = nullptr;
  MatrixView eh_proj;  // [E x 2E]
  LayerWeights layer;
};

class DeepseekModel final : public Model {
 public:
  DeepseekModel(const DeepseekHParams& h, std::shared_ptr<const ModelFiles> files)
      : h_(h), files_(std::move(files)),
        rope_(h.d_rope, h.rope_theta, YarnParams{h.yarn_factor, h.yarn_orig_ctx, h.yarn_beta_fast, h.yarn_beta_slow, h.mscale_all_dim}) {
    dims_ = MlaDims{.n_embd = h.n_embd, .n_head = h.n_head, .q_lora_rank = h.q_lora_rank, .kv_lora_rank = h.kv_lora_rank,
                    .d_nope = h.d_nope, .d_rope = h.d_rope, .d_v = h.d_v, .eps = static_cast<float>(h.rms_eps),
                    .softmax_scale = static_cast<float>(std::pow(static_cast<double>(h.d_nope + h.d_rope), -0.5) *
                                                        rope_.softmax_scale_factor())};
    routing_ = RoutingConfig{.n_expert = h.n_expert, .n_used = h.n_expert_used, .n_group = h.n_group,
                             .n_group_used = h.n_group_used, .sigmoid = h.gating == Gating::kSigmoid,
                             .normalize = h.norm_topk, .scale = static_cast<float>(h.route_scale)};
  }

  Status bind() {
    WeightBinder b(files_->weights, files_->path, owned_);
    const int64_t E = h_.n_embd, V = h_.n_vocab;
    embd_ = b.matrix("token_embd.weight", "model.embed_tokens.weight", V, E);
    out_norm_ = b.vec("output_norm.weight", "model.norm.weight", E);
    head_ = b.matrix("output.weight", "lm_head.weight", V, E);
    layers_.resize(static_cast<size_t>(h_.n_layer));
    for (int64_t i = 0; i < h_.n_layer; ++i) bind_layer(b, i, layers_[static_cast<size_t>(i)]);
    if (h_.n_mtp > 0) {
      const int64_t L = h_.n_layer;
      const std::string g = "blk." + std::to_string(L) + ".", hf = "model.layers." + std::to_string(L) + ".";
      mtp_ = std::make_unique<MtpWeights>();
      mtp_->enorm = b.vec(g + "nextn.enorm.weight", hf + "enorm.weight", E);
      mtp_->hnorm = b.vec(g + "nextn.hnorm.weight", hf + "hnorm.weight", E);
      mtp_->head_norm = b.vec(g + "nextn.shared_head_norm.weight", hf + "shared_head.norm.weight", E);
      mtp_->eh_proj = b.matrix(g + "nextn.eh_proj.weight", hf + "eh_proj.weight", E, 2 * E);
      bind_layer(b, L, mtp_->layer);
    }
    return b.status();
  }

  const Architecture& arch() const override { return *files_->arch; }
  int64_t n_vocab() const override { return h_.n_vocab; }
  int64_t n_ctx() const override { return h_.n_ctx; }
  KvCache new_cache(int64_t n_ctx) const override {
    return KvCache(h_.n_layer + h_.n_mtp, n_ctx, h_.kv_lora_rank + h_.d_rope);
  }

  Status forward(std::span<const int32_t> tokens, KvCache& cache, ThreadPool& pool, const ForwardOptions& opt,
                 float* logits) const override {
    if (Status st = check_forward_input(tokens, cache, h_.n_vocab); !st.ok()) return st;
    const int64_t T = static_cast<int64_t>(tokens.size()), E = h_.n_embd;
    std::vector<float> x(static_cast<size_t>(T * E));
    const AttnSeq seq{0, T, cache.n_past, &cache};
    trunk(tokens, {&seq, 1}, pool, mla_mode(opt.mode), x.data());
    const int64_t first = opt.all_logits ? 0 : T - 1;
    linear(pool, head_, x.data() + first * E, T - first, logits);
    cache.n_past += T;
    return ok_status();
  }

  Status forward_batch(std::span<const SeqBatch> batch, ThreadPool& pool, const ForwardOptions& opt,
                       float* logits) const override {
    auto layout = layout_batch(batch, h_.n_vocab);
    if (!layout.ok()) return layout.status();
    if (layout->tokens.empty()) return ok_status();
    const int64_t E = h_.n_embd;
    std::vector<float> x(layout->tokens.size() * static_cast<size_t>(E));
    // kAuto is absorbed here: its per-token result does not depend on chunking or batch.
    trunk(layout->tokens, layout->seqs, pool, opt.mode == AttentionMode::kNaive ? MlaMode::kNaive : MlaMode::kAbsorbed,
          x.data());
    const std::vector<float> last = wanted_last_rows(batch, layout->seqs, x.data(), E);
    if (!last.empty()) linear(pool, head_, last.data(), static_cast<int64_t>(last.size()) / E, logits);
    advance_caches(batch);
    return ok_status();
  }

  Status forward_mtp(std::span<const int32_t> tokens, ThreadPool& pool, float* logits) const override {
    if (!mtp_) return Status::error("this model has no multi-token-prediction layer");
    const int64_t T = static_cast<int64_t>(tokens.size()), E = h_.n_embd;
    if (T < 2) return Status::error("MTP needs at least two tokens");
    KvCache cache = new_cache(T);
    std::vector<float> h(static_cast<size_t>(T * E));
    if (Status st = check_forward_input(tokens, cache, h_.n_vocab); !st.ok()) return st;
    const AttnSeq trunk_seq{0, T, 0, &cache};
    trunk(tokens, {&trunk_seq, 1}, pool, MlaMode::kAbsorbed, h.data());  // h_i after the output norm
    // x_i = eh_proj [enorm(Emb(t_{i+1})) ; hnorm(h_i)], i = 0..T-2
    std::vector<float> cat(static_cast<size_t>((T - 1) * 2 * E)), x(static_cast<size_t>((T - 1) * E));
    for (int64_t i = 0; i + 1 < T; ++i) {
      float* row = cat.data() + i * 2 * E;
      embed_row(tokens[static_cast<size_t>(i + 1)], row);
      kernels::rms_norm(row, mtp_->enorm, row, E, dims_.eps);
      kernels::rms_norm(h.data() + i * E, mtp_->hnorm, row + E, E, dims_.eps);
    }
    linear(pool, mtp_->eh_proj, cat.data(), T - 1, x.data());
    std::vector<float> scratch;
    const AttnSeq mtp_seq{0, T - 1, 0, &cache};
    run_layer(mtp_->layer, h_.n_layer, x.data(), T - 1, {&mtp_seq, 1}, pool, MlaMode::kAbsorbed, scratch);
    rms_norm_rows(x.data(), mtp_->head_norm, x.data(), T - 1, E, dims_.eps);
    linear(pool, head_, x.data(), T - 1, logits);
    return ok_status();
  }

 private:
  static MlaMode mla_mode(AttentionMode m) {
    // Auto is absorbed at every length: with heads sharing each cached-row read
    // it is faster than naive even where naive does fewer FLOPs per key
    // (v2-lite q4_k, 2 cores, pp2048: 36.7 vs 17.3 tok/s), it never expands
    // K/V for all positions (naive's S x heads x (d_nope + d_v) floats: 4.3 GB
    // at 32K tokens for V3), and its per-token result does not depend on
    // chunking, so `run` and `serve` agree bit for bit at any prompt length.
    return m == AttentionMode::kNaive ? MlaMode::kNaive : MlaMode::kAbsorbed;
  }

  void embed_row(int32_t token, float* out) const {
    kernels::dequantize_row(embd_.dtype, embd_.data + static_cast<uint64_t>(token) * embd_.row_bytes, out, h_.n_embd);
  }

  // Embedding + all trunk layers + output norm: x[T x E] = normalised final hidden states.
  void trunk(std::span<const int32_t> tokens, std::span<const AttnSeq> seqs, ThreadPool& pool, MlaMode mode,
             float* x) const {
    const int64_t T = static_cast<int64_t>(tokens.size()), E = h_.n_embd;
    for (int64_t t = 0; t < T; ++t) embed_row(tokens[static_cast<size_t>(t)], x + t * E);
    std::vector<float> scratch;
    for (int64_t l = 0; l < h_.n_layer; ++l) run_layer(layers_[static_cast<size_t>(l)], l, x, T, seqs, pool, mode, scratch);
    rms_norm_rows(x, out_norm_, x, T, E, dims_.eps);
  }

  void run_layer(const LayerWeights& lw, int64_t l, float* x, int64_t T, std::span<const AttnSeq> seqs, ThreadPool& pool,
                 MlaMode mode, std::vector<float>& scratch) const {
    const int64_t E = h_.n_embd;
    std::vector<float> xn(static_cast<size_t>(T * E)), y(static_cast<size_t>(T * E));
    rms_norm_rows(x, lw.attn_norm, xn.data(), T, E, dims_.eps);
    mla_forward(pool, dims_, lw.attn, rope_, xn.data(), seqs, l, mode, y.data(), scratch);
    for (int64_t i = 0; i < T * E; ++i) x[i] += y[static_cast<size_t>(i)];
    rms_norm_rows(x, lw.ffn_norm, xn.data(), T, E, dims_.eps);
    if (lw.dense) swiglu_mlp(pool, lw.mlp, xn.data(), T, y.data(), scratch);
    else moe_forward(pool, lw.moe, xn.data(), T, y.data(), scratch);
    for (int64_t i = 0; i < T * E; ++i) x[i] += y[static_cast<size_t>(i)];
  }

  // Shared experts over all tokens, then each routed expert over the tokens that
  // chose it (one matmul per active expert), added in expert order per token.
  void moe_forward(ThreadPool& pool, const MoeWeights& m, const float* xn, int64_t T, float* y,
                   std::vector<float>& scratch) const {
    const int64_t E = h_.n_embd, X = h_.n_expert, K = h_.n_expert_used;
    std::vector<float> logits(static_cast<size_t>(T * X)), route_scratch(static_cast<size_t>(2 * X));
    linear(pool, m.router, xn, T, logits.data());
    std::vector<int32_t> idx(static_cast<size_t>(T * K));
    std::vector<float> w(static_cast<size_t>(T * K));
    for (int64_t t = 0; t < T; ++t)
      route_token(routing_, logits.data() + t * X, m.bias, route_scratch.data(), idx.data() + t * K, w.data() + t * K);
    if (m.has_shared) swiglu_mlp(pool, m.shared, xn, T, y, scratch);
    else std::fill(y, y + T * E, 0.0f);
    // Gather each active expert's tokens, run all active experts in two parallel
    // passes, then add their outputs per token in expert order (fixed, so the
    // result does not depend on which other tokens share the batch).
    std::vector<std::vector<std::pair<int64_t, float>>> users(static_cast<size_t>(X));  // (token, weight)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t k = 0; k < K; ++k)
        users[static_cast<size_t>(idx[static_cast<size_t>(t * K + k)])].emplace_back(t, w[static_cast<size_t>(t * K + k)]);
    std::vector<const MlpWeights*> ws;
    std::vector<int64_t> ns, first;
    int64_t rows = 0;
    for (int64_t e = 0; e < X; ++e) {
      if (users[static_cast<size_t>(e)].empty()) continue;
      ws.push_back(&m.experts[static_cast<size_t>(e)]);
      ns.push_back(static_cast<int64_t>(users[static_cast<size_t>(e)].size()));
      first.push_back(rows);
      rows += ns.back();
    }
    std::vector<float> xs(static_cast<size_t>(rows * E)), ys(static_cast<size_t>(rows * E));
    std::vector<const float*> xp;
    std::vector<float*> yp;
    for (size_t a = 0, e = 0; e < users.size(); ++e) {
      if (users[e].empty()) continue;
      for (size_t i = 0; i < users[e].size(); ++i)
        std::memcpy(xs.data() + (first[a] + static_cast<int64_t>(i)) * E, xn + users[e][i].first * E, E * sizeof(float));
      xp.push_back(xs.data() + first[a] * E);
      yp.push_back(ys.data() + first[a] * E);
      ++a;
    }
    swiglu_mlp_many(pool, ws, xp, ns, yp, scratch);
    for (size_t a = 0, e = 0; e < users.size(); ++e) {
      if (users[e].empty()) continue;
      for (size_t i = 0; i < users[e].size(); ++i) {
        const auto [t, wt] = users[e][i];
        const float* src = yp[a] + static_cast<int64_t>(i) * E;
        for (int64_t j = 0; j < E; ++j) y[t * E + j] += wt * src[j];
      }
      ++a;
    }
  }

  void bind_mlp(WeightBinder& b, const std::string& g, const std::string& hf, const std::string& suffix, int64_t F,
                MlpWeights& m) const {
    const int64_t E = h_.n_embd;
    m.gate = b.matrix(g + "ffn_gate" + suffix + ".weight", hf + "gate_proj.weight", F, E);
    m.up = b.matrix(g + "ffn_up" + suffix + ".weight", hf + "up_proj.weight", F, E);
    m.down = b.matrix(g + "ffn_down" + suffix + ".weight", hf + "down_proj.weight", E, F);
  }

  void bind_layer(WeightBinder& b, int64_t i, LayerWeights& lw) const {
    const std::string g = "blk." + std::to_string(i) + ".", hf = "model.layers." + std::to_string(i) + ".";
    const int64_t E = h_.n_embd, H = h_.n_head, Dq = h_.d_nope + h_.d_rope, Ckv = h_.kv_lora_rank;
    lw.attn_norm = b.vec(g + "attn_norm.weight", hf + "input_layernorm.weight", E);
    lw.ffn_norm = b.vec(g + "ffn_norm.weight", hf + "post_attention_layernorm.weight", E);
    MlaWeights& a = lw.attn;
    if (h_.q_lora_rank > 0) {
      a.q_a = b.matrix(g + "attn_q_a.weight", hf + "self_attn.q_a_proj.weight", h_.q_lora_rank, E);
      a.q_a_norm = b.vec(g + "attn_q_a_norm.weight", hf + "self_attn.q_a_layernorm.weight", h_.q_lora_rank);
      a.q_b = b.matrix(g + "attn_q_b.weight", hf + "self_attn.q_b_proj.weight", H * Dq, h_.q_lora_rank);
    } else {
      a.q = b.matrix(g + "attn_q.weight", hf + "self_attn.q_proj.weight", H * Dq, E);
    }
    a.kv_a = b.matrix(g + "attn_kv_a_mqa.weight", hf + "self_attn.kv_a_proj_with_mqa.weight", Ckv + h_.d_rope, E);
    a.kv_a_norm = b.vec(g + "attn_kv_a_norm.weight", hf + "self_attn.kv_a_layernorm.weight", Ckv);
    a.split = b.has(g + "attn_k_b.weight", "");
    if (a.split) {
      a.k_b = b.matrix(g + "attn_k_b.weight", "", H * Ckv, h_.d_nope);
      a.v_b = b.matrix(g + "attn_v_b.weight", "", H * h_.d_v, Ckv);
    } else {
      a.kv_b = b.matrix(g + "attn_kv_b.weight", hf + "self_attn.kv_b_proj.weight", H * (h_.d_nope + h_.d_v), Ckv);
    }
    a.o = b.matrix(g + "attn_output.weight", hf + "self_attn.o_proj.weight", E, H * h_.d_v);
    lw.dense = i < h_.n_dense_lead;
    if (lw.dense) return bind_mlp(b, g, hf + "mlp.", "", h_.n_ff, lw.mlp);
    MoeWeights& m = lw.moe;
    m.router = b.matrix(g + "ffn_gate_inp.weight", hf + "mlp.gate.weight", h_.n_expert, E);
    if (h_.expert_bias) m.bias = b.vec(g + "exp_probs_b.bias", hf + "mlp.gate.e_score_correction_bias", h_.n_expert);
    m.experts.resize(static_cast<size_t>(h_.n_expert));
    const int64_t Fe = h_.n_ff_exp;
    if (b.has(g + "ffn_gate_exps.weight", "")) {  // GGUF: experts merged into [X][Fe][E] / [X][E][Fe]
      const MatrixView gate = b.matrix(g + "ffn_gate_exps.weight", "", h_.n_expert * Fe, E);
      const MatrixView up = b.matrix(g + "ffn_up_exps.weight", "", h_.n_expert * Fe, E);
      const MatrixView down = b.matrix(g + "ffn_down_exps.weight", "", h_.n_expert * E, Fe);
      for (int64_t e = 0; e < h_.n_expert; ++e)
        m.experts[static_cast<size_t>(e)] = {kernels::matrix_rows(gate, e * Fe, Fe), kernels::matrix_rows(up, e * Fe, Fe),
                                             kernels::matrix_rows(down, e * E, E)};
    } else {  // Hugging Face: one tensor per expert
      for (int64_t e = 0; e < h_.n_expert; ++e)
        bind_mlp(b, "", hf + "mlp.experts." + std::to_string(e) + ".", "", Fe, m.experts[static_cast<size_t>(e)]);
    }
    m.has_shared = h_.n_expert_shared > 0;
    if (m.has_shared) bind_mlp(b, g, hf + "mlp.shared_experts.", "_shexp", Fe * h_.n_expert_shared, m.shared);
  }

  DeepseekHParams h_;
  std::shared_ptr<const ModelFiles> files_;
  WeightBinder::Storage owned_;  // f32 copies of norms and biases
  RopeTable rope_;
  MlaDims dims_;
  RoutingConfig routing_;
  MatrixView embd_, head_;
  const float* out_norm_ = nullptr;
  std::vector<LayerWeights> layers_;
  std::unique_ptr<MtpWeights> mtp_;
};

}  // namespace

Result<std::unique_ptr<Model>> create_deepseek_model(const DeepseekHParams& h, std::shared_ptr<const ModelFiles> files) {
  auto m = std::make_unique<DeepseekModel>(h, std::move(files));
  Status st = m->bind();
  if (!st.ok()) return st;
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace dseek
