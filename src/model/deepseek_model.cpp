// The DeepSeek forward pass: embedding, L decoder layers of MLA attention and
// a dense or DeepSeekMoE feed-forward, final norm, output head; plus the V3
// multi-token-prediction module. Weights are bound in place from GGUF
// (llama.cpp `deepseek2` names, W_UK/W_UV split per head or joint kv_b)
// or from a Hugging Face checkpoint (DeepSeek's names, FP8 with block scales).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/blocks/linear.h"
#include "model/blocks/mla.h"
#include "model/blocks/moe.h"
#include "model/blocks/rope.h"
#include "model/decoder.h"
#include "model/deepseek.h"
#include "model/weight_binder.h"

namespace dseek {
namespace {

using kernels::MatrixView;

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

class DeepseekModel final : public Decoder {
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
    const DeepseekTensors& t = deepseek_tensors();
    trunk_.n_embd = h_.n_embd, trunk_.n_vocab = h_.n_vocab, trunk_.n_layer = h_.n_layer;
    trunk_.eps = dims_.eps;
    trunk_.embd = t.matrix(b, DsTensor::kTokenEmbd, h_);
    trunk_.out_norm = t.vec(b, DsTensor::kOutputNorm, h_);
    trunk_.head = t.matrix(b, DsTensor::kOutput, h_);
    layers_.resize(static_cast<size_t>(h_.n_layer));
    for (int64_t i = 0; i < h_.n_layer; ++i) bind_layer(b, i, layers_[static_cast<size_t>(i)]);
    if (h_.n_mtp > 0) {
      const int64_t L = h_.n_layer;
      mtp_ = std::make_unique<MtpWeights>();
      mtp_->enorm = t.vec(b, DsTensor::kMtpENorm, h_, L);
      mtp_->hnorm = t.vec(b, DsTensor::kMtpHNorm, h_, L);
      mtp_->head_norm = t.vec(b, DsTensor::kMtpHeadNorm, h_, L);
      mtp_->eh_proj = t.matrix(b, DsTensor::kMtpEhProj, h_, L);
      bind_layer(b, L, mtp_->layer);
    }
    return b.status();
  }

  const Architecture& arch() const override { return *files_->arch; }
  int64_t n_ctx() const override { return h_.n_ctx; }
  KvCache new_cache(int64_t n_ctx) const override {
    return KvCache(h_.n_layer + h_.n_mtp, n_ctx, h_.kv_lora_rank + h_.d_rope);
  }

  Status forward_mtp(std::span<const int32_t> tokens, ThreadPool& pool, float* logits) const override {
    if (!mtp_) return Status::error("this model has no multi-token-prediction layer");
    const int64_t T = static_cast<int64_t>(tokens.size()), E = h_.n_embd;
    if (T < 2) return Status::error("MTP needs at least two tokens");
    KvCache cache = new_cache(T);
    if (Status st = check_forward_input(tokens, cache, h_.n_vocab); !st.ok()) return st;
    StepArena arena;
    float* h = arena.take<float>(T * E);
    const AttnSeq trunk_seq{0, T, 0, &cache};
    run_trunk(tokens, LayerStep{pool, {&trunk_seq, 1}, T, AttentionMode::kAbsorbed, arena}, h);  // h_i after the output norm
    // x_i = eh_proj [enorm(Emb(t_{i+1})) ; hnorm(h_i)], i = 0..T-2
    float* cat = arena.take<float>((T - 1) * 2 * E);
    float* x = arena.take<float>((T - 1) * E);
    for (int64_t i = 0; i + 1 < T; ++i) {
      float* row = cat + i * 2 * E;
      embed_row(tokens[static_cast<size_t>(i + 1)], row);
      kernels::rms_norm(row, mtp_->enorm, row, E, dims_.eps);
      kernels::rms_norm(h + i * E, mtp_->hnorm, row + E, E, dims_.eps);
    }
    linear(pool, mtp_->eh_proj, cat, T - 1, x);
    const AttnSeq mtp_seq{0, T - 1, 0, &cache};
    run_block(mtp_->layer, h_.n_layer, x, LayerStep{pool, {&mtp_seq, 1}, T - 1, AttentionMode::kAbsorbed, arena});
    rms_norm_rows(x, mtp_->head_norm, x, T - 1, E, dims_.eps);
    linear(pool, trunk_.head, x, T - 1, logits);
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

  void run_layer(int64_t layer, float* x, const LayerStep& step) const override {
    run_block(layers_[static_cast<size_t>(layer)], layer, x, step);
  }

  // x += MLA(norm(x)); x += FFN(norm(x)), the FFN dense or DeepSeekMoE.
  void run_block(const LayerWeights& lw, int64_t l, float* x, const LayerStep& s) const {
    const StepArena::Scope scope(s.arena);
    const int64_t T = s.n_tok, E = h_.n_embd;
    float* xn = s.arena.take<float>(T * E);
    float* y = s.arena.take<float>(T * E);
    rms_norm_rows(x, lw.attn_norm, xn, T, E, dims_.eps);
    mla_forward(s.pool, dims_, lw.attn, rope_, xn, s.seqs, l, mla_mode(s.mode), y, s.arena);
    add_residual(x, y, T * E);
    rms_norm_rows(x, lw.ffn_norm, xn, T, E, dims_.eps);
    if (lw.dense) swiglu_mlp(s.pool, lw.mlp, xn, T, y, s.arena);
    else moe_forward(s.pool, routing_, lw.moe, xn, T, E, y, s.arena);
    add_residual(x, y, T * E);
  }

  void bind_layer(WeightBinder& b, int64_t i, LayerWeights& lw) const {
    using enum DsTensor;
    const DeepseekTensors& t = deepseek_tensors();
    lw.attn_norm = t.vec(b, kAttnNorm, h_, i);
    lw.ffn_norm = t.vec(b, kFfnNorm, h_, i);
    MlaWeights& a = lw.attn;
    if (t.present(kQA, h_, i)) {
      a.q_a = t.matrix(b, kQA, h_, i);
      a.q_a_norm = t.vec(b, kQANorm, h_, i);
      a.q_b = t.matrix(b, kQB, h_, i);
    } else {
      a.q = t.matrix(b, kQ, h_, i);
    }
    a.kv_a = t.matrix(b, kKvA, h_, i);
    a.kv_a_norm = t.vec(b, kKvANorm, h_, i);
    a.up = t.has(b, kKB, i) ? mla_split_up_projection(t.matrix(b, kKB, h_, i), t.matrix(b, kVB, h_, i), dims_)
                            : mla_joint_up_projection(t.matrix(b, kKvB, h_, i), dims_);
    a.o = t.matrix(b, kAttnOut, h_, i);
    lw.dense = t.present(kGate, h_, i);
    if (lw.dense) {
      lw.mlp = {t.matrix(b, kGate, h_, i), t.matrix(b, kUp, h_, i), t.matrix(b, kDown, h_, i)};
      return;
    }
    MoeWeights& m = lw.moe;
    m.router = t.matrix(b, kRouter, h_, i);
    if (t.present(kExpBias, h_, i)) m.bias = t.vec(b, kExpBias, h_, i);
    m.experts.resize(static_cast<size_t>(h_.n_expert));
    if (t.has(b, kGateExps, i)) {  // GGUF: experts merged into [X][Fe][E] / [X][E][Fe]
      const MatrixView gate = t.matrix(b, kGateExps, h_, i), up = t.matrix(b, kUpExps, h_, i);
      const MatrixView down = t.matrix(b, kDownExps, h_, i);
      const int64_t Fe = t.per_expert_rows(kGateExps, h_), E = t.per_expert_rows(kDownExps, h_);
      for (int64_t e = 0; e < h_.n_expert; ++e)
        m.experts[static_cast<size_t>(e)] = {kernels::matrix_rows(gate, e * Fe, Fe), kernels::matrix_rows(up, e * Fe, Fe),
                                             kernels::matrix_rows(down, e * E, E)};
    } else {  // Hugging Face: one tensor per expert
      auto one = [&](DsTensor id, int64_t e) {
        return b.matrix(t.gguf_name(id, i), t.hf_expert_name(id, i, e), t.per_expert_rows(id, h_), t.cols(id, h_));
      };
      for (int64_t e = 0; e < h_.n_expert; ++e)
        m.experts[static_cast<size_t>(e)] = {one(kGateExps, e), one(kUpExps, e), one(kDownExps, e)};
    }
    m.has_shared = t.present(kGateShexp, h_, i);
    if (m.has_shared) m.shared = {t.matrix(b, kGateShexp, h_, i), t.matrix(b, kUpShexp, h_, i), t.matrix(b, kDownShexp, h_, i)};
  }

  DeepseekHParams h_;
  std::shared_ptr<const ModelFiles> files_;
  WeightBinder::Storage owned_;  // f32 copies of norms and biases
  RopeTable rope_;
  MlaDims dims_;
  RoutingConfig routing_;
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
