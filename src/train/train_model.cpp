// See train_model.h. The forward mirrors model/arch/deepseek.cpp: embedding,
// layers of [RMSNorm, MLA, residual, RMSNorm, MLP or MoE, residual], output
// norm, head; MTP: x = eh_proj [enorm(Emb(t+1)) ; hnorm(h_t)] -> one layer ->
// the MTP head norm -> the shared head (DEEPSEEK_NOTES.md, "MTP").
#include "train/train_model.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "model/blocks/rope.h"
#include "train/backward/ops.h"
#include "train/backward/param_shape.h"

namespace dseek::train {

template <typename T>
struct TrainModel<T>::LayerState {
  std::vector<T> x_in, inv1, xn1, x_mid, inv2, xn2;
  MlaState<T> attn;
  MlpState<T> mlp;
  MoeState<T> moe;
};

template <typename T>
struct TrainModel<T>::Forward {
  std::vector<int64_t> starts, mtp_starts;
  std::vector<int32_t> pos, mtp_pos, targets, mtp_targets;
  std::vector<T> x, xl, out_inv, hn, logits;
  std::vector<LayerState> layers;
  // MTP
  std::vector<T> emb_next, e_inv, h_inv, cat, xm, xm_final, mh_inv, mh, mtp_logits;
  LayerState mtp_layer;
  StepResult result;
};

template <typename T>
TrainModel<T>::TrainModel(const DeepseekHParams& h, int64_t max_seq, uint64_t seed) : h_(h), max_seq_(max_seq) {
  const int64_t E = h.n_embd;
  const RopeTable table(h.d_rope, h.rope_theta, YarnParams{});
  mla_ = MlaConfig{.n_embd = E, .n_head = h.n_head, .q_lora_rank = h.q_lora_rank, .kv_lora_rank = h.kv_lora_rank,
                   .d_nope = h.d_nope, .d_rope = h.d_rope, .d_v = h.d_v, .eps = h.rms_eps,
                   .softmax_scale = std::pow(static_cast<double>(h.d_nope + h.d_rope), -0.5) * table.softmax_scale_factor()};
  routing_ = RoutingConfig{.n_expert = h.n_expert, .n_used = h.n_expert_used, .n_group = h.n_group,
                           .n_group_used = h.n_group_used, .sigmoid = h.gating == Gating::kSigmoid,
                           .normalize = h.norm_topk, .scale = static_cast<float>(h.route_scale)};
  rope_.n_pairs = h.d_rope / 2;
  rope_.cos.resize(static_cast<size_t>(max_seq * rope_.n_pairs));
  rope_.sin.resize(rope_.cos.size());
  for (int64_t p = 0; p < max_seq; ++p)
    table.angles(p, rope_.cos.data() + p * rope_.n_pairs, rope_.sin.data() + p * rope_.n_pairs);

  shape_slot(embd_, DsTensor::kTokenEmbd, h);
  shape_slot(out_norm_, DsTensor::kOutputNorm, h);
  shape_slot(head_, DsTensor::kOutput, h);
  layers_.resize(static_cast<size_t>(h.n_layer));
  for (int64_t i = 0; i < h.n_layer; ++i) shape_layer(layers_[static_cast<size_t>(i)], i, i < h.n_dense_lead);
  if (h.n_mtp > 0) {
    mtp_ = std::make_unique<MtpParams<T>>();
    shape_slot(mtp_->enorm, DsTensor::kMtpENorm, h, h.n_layer);
    shape_slot(mtp_->hnorm, DsTensor::kMtpHNorm, h, h.n_layer);
    shape_slot(mtp_->eh_proj, DsTensor::kMtpEhProj, h, h.n_layer);
    shape_slot(mtp_->head_norm, DsTensor::kMtpHeadNorm, h, h.n_layer);
    shape_layer(mtp_->layer, h.n_layer, false);
  }
  // Initialisation: unit-variance embeddings (an RMSNorm follows), 1/sqrt(fan_in)
  // matrices, residual-branch outputs further scaled by 1/sqrt(2 L) (GPT-2 §2.3).
  Rng rng(seed);
  init_normal(embd_, rng, 1.0);
  init_ones(out_norm_);
  init_normal(head_, rng, 1.0 / std::sqrt(static_cast<double>(E)));
  for (auto& l : layers_) init_layer(l, rng);
  if (mtp_) {
    init_ones(mtp_->enorm);
    init_ones(mtp_->hnorm);
    init_ones(mtp_->head_norm);
    init_normal(mtp_->eh_proj, rng, 1.0 / std::sqrt(static_cast<double>(2 * E)));
    init_layer(mtp_->layer, rng);
  }

  params_ = {&embd_};
  auto collect_layer = [&](LayerParams<T>& l) {
    params_.push_back(&l.attn_norm);
    l.attn.collect(params_);
    params_.push_back(&l.ffn_norm);
    if (l.dense) l.mlp.collect(params_);
    else l.moe.collect(params_);
  };
  for (auto& l : layers_) collect_layer(l);
  if (mtp_) {
    for (Param<T>* p : {&mtp_->enorm, &mtp_->hnorm, &mtp_->eh_proj, &mtp_->head_norm}) params_.push_back(p);
    collect_layer(mtp_->layer);
  }
  params_.push_back(&out_norm_);
  params_.push_back(&head_);
}

template <typename T>
void TrainModel<T>::shape_layer(LayerParams<T>& l, int64_t index, bool dense) {
  using enum DsTensor;
  shape_slot(l.attn_norm, kAttnNorm, h_, index);
  shape_slot(l.ffn_norm, kFfnNorm, h_, index);
  l.attn.shape(h_, index);
  l.dense = dense;
  if (dense) l.mlp.shape(h_, index, kGate, kUp, kDown);
  else l.moe.shape(h_, index);
}

template <typename T>
void TrainModel<T>::init_layer(LayerParams<T>& l, Rng& rng) {
  const double out_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(h_.n_layer + h_.n_mtp));
  init_ones(l.attn_norm);
  init_ones(l.ffn_norm);
  l.attn.init(mla_, rng, out_scale);
  if (l.dense) l.mlp.init(rng, out_scale);
  else l.moe.init(rng, out_scale);
}

template <typename T>
Param<T>* TrainModel<T>::find(const std::string& name) const {
  for (Param<T>* p : params_)
    if (p->name == name) return p;
  return nullptr;
}

template <typename T>
void TrainModel<T>::zero_grad() {
  for (Param<T>* p : params_) std::fill(p->g.begin(), p->g.end(), T(0));
}

// Both overloads: the score-correction bias of every MoE layer that has one, main layers then MTP.
template <typename T>
template <typename Self>
auto TrainModel<T>::biases_of(Self& self) {
  std::vector<decltype(&self.layers_[0].moe.bias)> out;
  for (auto& l : self.layers_)
    if (!l.dense && !l.moe.bias.empty()) out.push_back(&l.moe.bias);
  if (self.mtp_ && !self.mtp_->layer.moe.bias.empty()) out.push_back(&self.mtp_->layer.moe.bias);
  return out;
}

template <typename T>
std::vector<std::vector<float>*> TrainModel<T>::expert_biases() {
  return biases_of(*this);
}

template <typename T>
std::vector<const std::vector<float>*> TrainModel<T>::expert_biases() const {
  return biases_of(*this);
}

template <typename T>
void TrainModel<T>::layer_fwd(ThreadPool& pool, const LayerParams<T>& l, T* x, int64_t n,
                              std::span<const int64_t> starts, std::span<const int32_t> pos, double alpha, bool bf16,
                              LayerState& s) const {
  MlaConfig mla = mla_;
  mla.bf16 = bf16;
  const int64_t E = h_.n_embd;
  const size_t nE = static_cast<size_t>(n * E);
  std::vector<T> y(nE);
  s.x_in.assign(x, x + nE);
  s.xn1.resize(nE);
  s.inv1.resize(static_cast<size_t>(n));
  rms_norm_fwd(x, l.attn_norm.w.data(), n, E, h_.rms_eps, s.xn1.data(), s.inv1.data());
  mla_fwd(pool, mla, l.attn, rope_, s.xn1.data(), n, starts, pos, s.attn, y.data());
  for (size_t i = 0; i < nE; ++i) x[i] += y[i];
  s.x_mid.assign(x, x + nE);
  s.xn2.resize(nE);
  s.inv2.resize(static_cast<size_t>(n));
  rms_norm_fwd(x, l.ffn_norm.w.data(), n, E, h_.rms_eps, s.xn2.data(), s.inv2.data());
  if (l.dense) mlp_fwd(pool, l.mlp, s.xn2.data(), n, s.mlp, y.data(), bf16);
  else moe_fwd(pool, routing_, l.moe, s.xn2.data(), n, starts, alpha, s.moe, y.data(), bf16);
  for (size_t i = 0; i < nE; ++i) x[i] += y[i];
}

// dx: gradient of the layer's output on entry, of its input on return (the
// residual connections carry it through; the norms' backward adds into it).
template <typename T>
void TrainModel<T>::layer_bwd(ThreadPool& pool, LayerParams<T>& l, T* dx, int64_t n, std::span<const int64_t> starts,
                              std::span<const int32_t> pos, double alpha, bool bf16, const LayerState& s) {
  const int64_t E = h_.n_embd;
  MlaConfig mla = mla_;
  mla.bf16 = bf16;
  std::vector<T> dxn(static_cast<size_t>(n * E), T(0));
  if (l.dense) mlp_bwd(pool, l.mlp, s.xn2.data(), n, s.mlp, dx, dxn.data(), bf16);
  else moe_bwd(pool, routing_, l.moe, s.xn2.data(), n, starts, alpha, s.moe, dx, dxn.data(), bf16);
  rms_norm_bwd(s.x_mid.data(), l.ffn_norm.w.data(), s.inv2.data(), dxn.data(), n, E, dx, l.ffn_norm.g.data());
  std::fill(dxn.begin(), dxn.end(), T(0));
  mla_bwd(pool, mla, l.attn, rope_, s.xn1.data(), n, starts, pos, s.attn, dx, dxn.data());
  rms_norm_bwd(s.x_in.data(), l.attn_norm.w.data(), s.inv1.data(), dxn.data(), n, E, dx, l.attn_norm.g.data());
}

template <typename T>
void TrainModel<T>::run(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, const LossOptions& opt,
                        Forward& f) {
  const int64_t n = static_cast<int64_t>(tokens.size()), S = n / n_seq, E = h_.n_embd, V = h_.n_vocab;
  const size_t nE = static_cast<size_t>(n * E);
  if (opt.segment_starts.empty())
    for (int64_t q = 0; q <= n_seq; ++q) f.starts.push_back(q * S);
  else
    f.starts.assign(opt.segment_starts.begin(), opt.segment_starts.end());
  for (int64_t t = 0, seg = 0; t < n; ++t) {
    while (f.starts[static_cast<size_t>(seg + 1)] <= t) ++seg;
    f.pos.push_back(static_cast<int32_t>(t - f.starts[static_cast<size_t>(seg)]));
    f.targets.push_back(t % S + 1 < S ? tokens[static_cast<size_t>(t + 1)] : -1);
  }
  // Trunk.
  f.x.resize(nE);
  for (int64_t t = 0; t < n; ++t)
    std::copy_n(embd_.w.data() + tokens[static_cast<size_t>(t)] * E, E, f.x.data() + t * E);
  f.layers.resize(layers_.size());
  for (size_t l = 0; l < layers_.size(); ++l)
    layer_fwd(pool, layers_[l], f.x.data(), n, f.starts, f.pos, opt.balance_alpha, opt.bf16, f.layers[l]);
  f.xl = f.x;
  f.hn.resize(nE);
  f.out_inv.resize(static_cast<size_t>(n));
  rms_norm_fwd(f.xl.data(), out_norm_.w.data(), n, E, h_.rms_eps, f.hn.data(), f.out_inv.data());
  f.logits.resize(static_cast<size_t>(n * V));
  linear_fwd(pool, f.hn.data(), n, E, head_.w.data(), V, f.logits.data());
  // MTP over positions 0..S-2 of each row: input t+1's embedding and h_t, target t+2.
  const int64_t Sm = S - 1, nm = n_seq * Sm;
  if (mtp_ && Sm >= 1) {
    f.emb_next.resize(static_cast<size_t>(nm * E));
    f.cat.resize(static_cast<size_t>(nm * 2 * E));
    f.e_inv.resize(static_cast<size_t>(nm));
    f.h_inv.resize(static_cast<size_t>(nm));
    // The main trunk's document boundaries carried over (packed SFT rows): the
    // MTP layer attends within a document and predicts no token of the next.
    for (int64_t a : f.starts)
      if (a < n && a % S < Sm) f.mtp_starts.push_back(a / S * Sm + a % S);
    f.mtp_starts.push_back(nm);
    for (int64_t q = 0; q < n_seq; ++q)
      for (int64_t i = 0; i < Sm; ++i) {
        const int64_t r = q * Sm + i, t = q * S + i;
        const auto p = static_cast<size_t>(t);
        f.mtp_pos.push_back(f.pos[p]);
        f.mtp_targets.push_back(i + 2 < S && f.pos[p + 2] == f.pos[p] + 2 ? tokens[p + 2] : -1);
        std::copy_n(embd_.w.data() + tokens[static_cast<size_t>(t + 1)] * E, E, f.emb_next.data() + r * E);
        T* row = f.cat.data() + r * 2 * E;
        rms_norm_fwd(f.emb_next.data() + r * E, mtp_->enorm.w.data(), 1, E, h_.rms_eps, row, f.e_inv.data() + r);
        rms_norm_fwd(f.hn.data() + t * E, mtp_->hnorm.w.data(), 1, E, h_.rms_eps, row + E, f.h_inv.data() + r);
      }
    f.xm.resize(static_cast<size_t>(nm * E));
    linear_fwd(pool, f.cat.data(), nm, 2 * E, mtp_->eh_proj.w.data(), E, f.xm.data(), opt.bf16);
    layer_fwd(pool, mtp_->layer, f.xm.data(), nm, f.mtp_starts, f.mtp_pos, opt.balance_alpha, opt.bf16, f.mtp_layer);
    f.xm_final = f.xm;
    f.mh.resize(f.xm.size());
    f.mh_inv.resize(static_cast<size_t>(nm));
    rms_norm_fwd(f.xm_final.data(), mtp_->head_norm.w.data(), nm, E, h_.rms_eps, f.mh.data(), f.mh_inv.data());
    f.mtp_logits.resize(static_cast<size_t>(nm * V));
    linear_fwd(pool, f.mh.data(), nm, E, head_.w.data(), V, f.mtp_logits.data());
  }
}

template <typename T>
std::vector<Param<T>*> TrainModel<T>::bf16_params() {
  std::vector<Param<T>*> out;
  for (Param<T>* p : params_)
    if (p->rows > 1 && p != &embd_ && p != &head_ && p->name.find(deepseek_tensors().slot(DsTensor::kRouter).gguf) == std::string::npos) out.push_back(p);
  return out;
}

template <typename T>
StepResult TrainModel<T>::step(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, const LossOptions& opt) {
  if constexpr (!std::is_same_v<T, float>) {
    return step_impl(pool, tokens, n_seq, opt);
  } else {
    if (!opt.bf16) return step_impl(pool, tokens, n_seq, opt);
    // Compute on bfloat16 copies of the matrices; the masters come back untouched.
    std::vector<std::vector<float>> masters;
    const std::vector<Param<T>*> mats = bf16_params();
    for (Param<T>* p : mats) {
      masters.push_back(p->w);
      round_to_bf16(p->w.data(), p->size());
    }
    StepResult r = step_impl(pool, tokens, n_seq, opt);
    for (size_t i = 0; i < mats.size(); ++i) mats[i]->w = std::move(masters[i]);
    return r;
  }
}

template <typename T>
StepResult TrainModel<T>::step_impl(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq,
                                    const LossOptions& opt) {
  Forward f;
  run(pool, tokens, n_seq, opt, f);
  const int64_t n = static_cast<int64_t>(tokens.size()), E = h_.n_embd, V = h_.n_vocab;
  StepResult r;
  // Losses. Every term is a mean over its positions; MTP is weighted by lambda.
  std::vector<T> dlogits(f.logits.size());
  const int64_t n_main = std::count_if(f.targets.begin(), f.targets.end(), [](int32_t t) { return t >= 0; });
  if (opt.pg_targets) {
    r.loss = weighted_nll(f.logits.data(), opt.pg_targets, opt.pg_weights, n, V, dlogits.data());
    r.tokens = std::count_if(opt.pg_targets, opt.pg_targets + n, [](int32_t t) { return t >= 0; });
  } else {
    const double ce = cross_entropy(f.logits.data(), f.targets.data(), n, V, opt.ce_weight,
                                    static_cast<double>(std::max<int64_t>(n_main, 1)), dlogits.data(), &r.tokens);
    r.main_ce = ce / static_cast<double>(std::max<int64_t>(r.tokens, 1));
    r.loss = opt.ce_weight * r.main_ce;
  }
  if (opt.teacher_logits) {
    r.kd = distill_kl(f.logits.data(), opt.teacher_logits, n, V, opt.kd_temperature, opt.kd_weight,
                      static_cast<double>(n), dlogits.data()) / static_cast<double>(n);
    r.loss += opt.kd_weight * r.kd;
  }
  std::vector<T> dlogits_mtp(f.mtp_logits.size());
  const int64_t nm = static_cast<int64_t>(f.mtp_targets.size());
  if (mtp_ && nm > 0) {
    const int64_t n_mtp = std::count_if(f.mtp_targets.begin(), f.mtp_targets.end(), [](int32_t t) { return t >= 0; });
    int64_t counted = 0;
    const double mce = cross_entropy(f.mtp_logits.data(), f.mtp_targets.data(), nm, V, opt.mtp_weight,
                                     static_cast<double>(std::max<int64_t>(n_mtp, 1)), dlogits_mtp.data(), &counted);
    r.mtp_ce = mce / static_cast<double>(std::max<int64_t>(counted, 1));
    r.loss += opt.mtp_weight * r.mtp_ce;
  }
  for (auto& s : f.layers)
    if (!s.moe.load.empty()) r.balance += s.moe.balance_loss, r.expert_load.push_back(s.moe.load);
  if (mtp_ && !f.mtp_layer.moe.load.empty())
    r.balance += f.mtp_layer.moe.balance_loss, r.expert_load.push_back(f.mtp_layer.moe.load);
  r.loss += r.balance;
  if (!opt.backward) return r;

  // Backward: heads, then MTP, then the trunk from the top.
  std::vector<T> dhn(static_cast<size_t>(n * E), T(0)), demb_next;
  linear_bwd(pool, f.hn.data(), n, E, head_.w.data(), V, dlogits.data(), dhn.data(), head_.g.data());
  if (mtp_ && nm > 0) {
    std::vector<T> dmh(static_cast<size_t>(nm * E), T(0)), dxm(static_cast<size_t>(nm * E), T(0)),
        dcat(static_cast<size_t>(nm * 2 * E), T(0));
    linear_bwd(pool, f.mh.data(), nm, E, head_.w.data(), V, dlogits_mtp.data(), dmh.data(), head_.g.data());
    rms_norm_bwd(f.xm_final.data(), mtp_->head_norm.w.data(), f.mh_inv.data(), dmh.data(), nm, E, dxm.data(),
                 mtp_->head_norm.g.data());
    layer_bwd(pool, mtp_->layer, dxm.data(), nm, f.mtp_starts, f.mtp_pos, opt.balance_alpha, opt.bf16, f.mtp_layer);
    linear_bwd(pool, f.cat.data(), nm, 2 * E, mtp_->eh_proj.w.data(), E, dxm.data(), dcat.data(), mtp_->eh_proj.g.data(),
               opt.bf16);
    const int64_t Sm = nm / n_seq, S = n / n_seq;
    for (int64_t q = 0; q < n_seq; ++q)
      for (int64_t i = 0; i < Sm; ++i) {
        const int64_t rr = q * Sm + i, t = q * S + i;
        std::vector<T> de(static_cast<size_t>(E), T(0));
        rms_norm_bwd(f.emb_next.data() + rr * E, mtp_->enorm.w.data(), f.e_inv.data() + rr, dcat.data() + rr * 2 * E, 1,
                     E, de.data(), mtp_->enorm.g.data());
        T* ge = embd_.g.data() + tokens[static_cast<size_t>(t + 1)] * E;
        for (int64_t j = 0; j < E; ++j) ge[j] += de[static_cast<size_t>(j)];
        rms_norm_bwd(f.hn.data() + t * E, mtp_->hnorm.w.data(), f.h_inv.data() + rr, dcat.data() + rr * 2 * E + E, 1,
                     E, dhn.data() + t * E, mtp_->hnorm.g.data());
      }
  }
  std::vector<T> dx(static_cast<size_t>(n * E), T(0));
  rms_norm_bwd(f.xl.data(), out_norm_.w.data(), f.out_inv.data(), dhn.data(), n, E, dx.data(), out_norm_.g.data());
  for (size_t l = layers_.size(); l-- > 0;)
    layer_bwd(pool, layers_[l], dx.data(), n, f.starts, f.pos, opt.balance_alpha, opt.bf16, f.layers[l]);
  for (int64_t t = 0; t < n; ++t) {
    T* ge = embd_.g.data() + tokens[static_cast<size_t>(t)] * E;
    for (int64_t j = 0; j < E; ++j) ge[j] += dx[static_cast<size_t>(t * E + j)];
  }
  return r;
}

template <typename T>
void TrainModel<T>::logits(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, std::vector<T>& out) {
  Forward f;
  run(pool, tokens, n_seq, LossOptions{.balance_alpha = 0, .backward = false}, f);
  out = std::move(f.logits);
}

template <typename T>
void TrainModel<T>::token_logprobs(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq,
                                   std::vector<double>& out) {
  Forward f;
  run(pool, tokens, n_seq, LossOptions{.balance_alpha = 0, .backward = false}, f);
  const int64_t n = static_cast<int64_t>(tokens.size()), V = h_.n_vocab;
  out.assign(static_cast<size_t>(n), 0.0);
  for (int64_t t = 0; t < n; ++t) {
    if (f.targets[static_cast<size_t>(t)] < 0) continue;
    const T* l = f.logits.data() + t * V;
    const T mx = *std::max_element(l, l + V);
    double sum = 0;
    for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(l[i] - mx));
    out[static_cast<size_t>(t)] = static_cast<double>(l[f.targets[static_cast<size_t>(t)]] - mx) - std::log(sum);
  }
}

template <typename T>
void TrainModel<T>::mtp_logits(ThreadPool& pool, std::span<const int32_t> tokens, int64_t n_seq, std::vector<T>& out) {
  Forward f;
  run(pool, tokens, n_seq, LossOptions{.balance_alpha = 0, .backward = false}, f);
  out = std::move(f.mtp_logits);
}

template class TrainModel<float>;
template class TrainModel<double>;

}  // namespace dseek::train
