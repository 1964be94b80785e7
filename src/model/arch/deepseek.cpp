// DeepSeek V2 / V2-Lite / V3 / R1 / V3.1 / V3.2 (MLA attention + DeepSeekMoE,
// V3.2 adding sparse attention), as one architecture: the tensor table
// (llama.cpp's `deepseek2` GGUF names and DeepSeek's HF names), parameter
// accounting, and the layer the decoder skeleton (decoder.h) runs: MLA then a
// dense or MoE feed-forward, plus the V3 multi-token-prediction module. The
// hyper-parameter table and presets are in arch/deepseek_hparams.cpp.
// Behaviour is keyed on config fields: q_lora_rank == 0 means no query
// compression, index_n_heads > 0 adds V3.2's indexer (blocks/dsa_indexer.h).
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/arch.h"
#include "model/arch/deepseek_hparams.h"
#include "model/arch_util.h"
#include "model/blocks/linear.h"
#include "model/blocks/mla.h"
#include "model/blocks/moe.h"
#include "model/blocks/mtp_input.h"
#include "model/blocks/rope.h"
#include "model/common_tensors.h"
#include "model/decoder.h"
#include "model/deepseek.h"
#include "model/hparam_table.h"
#include "model/weight_binder.h"

namespace dseek {
namespace {

namespace ct = common_tensors;
using H = DeepseekHParams;
using Slot = TensorSlot<H>;
constexpr SlotScope kGlobal = SlotScope::kGlobal;

// Dimensions (arch.h glossary) as functions of the hyper-parameters.
int64_t E(const H& h) { return h.n_embd; }
int64_t E2(const H& h) { return 2 * h.n_embd; }
int64_t V(const H& h) { return h.n_vocab; }
int64_t Hd(const H& h) { return h.n_head; }
int64_t Cq(const H& h) { return h.q_lora_rank; }
int64_t Ckv(const H& h) { return h.kv_lora_rank; }
int64_t CkvDr(const H& h) { return h.kv_lora_rank + h.d_rope; }
int64_t Dn(const H& h) { return h.d_nope; }
int64_t Dv(const H& h) { return h.d_v; }
int64_t HDq(const H& h) { return h.n_head * (h.d_nope + h.d_rope); }
int64_t HDv(const H& h) { return h.n_head * h.d_v; }
int64_t HDnv(const H& h) { return h.n_head * (h.d_nope + h.d_v); }
int64_t F(const H& h) { return h.n_ff; }
int64_t Fe(const H& h) { return h.n_ff_exp; }
int64_t X(const H& h) { return h.n_expert; }
int64_t FeXs(const H& h) { return h.n_ff_exp * h.n_expert_shared; }
int64_t Hi(const H& h) { return h.index_n_heads; }
int64_t Di(const H& h) { return h.index_head_dim; }
int64_t HiDi(const H& h) { return h.index_n_heads * h.index_head_dim; }

// Which layers hold a slot.
bool mtp(const H& h, int64_t l) { return l >= h.n_layer; }
bool q_lora(const H& h, int64_t) { return h.q_lora_rank > 0; }
bool no_q_lora(const H& h, int64_t) { return h.q_lora_rank == 0; }
bool dense(const H& h, int64_t l) { return l < h.n_dense_lead; }
bool moe(const H& h, int64_t l) { return l >= h.n_dense_lead; }
bool moe_bias(const H& h, int64_t l) { return moe(h, l) && h.expert_bias; }
bool moe_shared(const H& h, int64_t l) { return moe(h, l) && h.n_expert_shared > 0; }
bool indexer(const H& h, int64_t) { return h.index_n_heads > 0; }  // every layer, the MTP one too

constexpr Slot mat(std::string_view gguf, std::string_view hf, HDim<H> ne0, HDim<H> ne1, bool (*when)(const H&, int64_t) = nullptr) {
  return {.gguf = gguf, .hf = hf, .ne = {ne0, ne1, nullptr}, .when = when};
}
constexpr Slot norm(std::string_view gguf, std::string_view hf, HDim<H> n, bool (*when)(const H&, int64_t) = nullptr) {
  return {.gguf = gguf, .hf = hf, .ne = {n, nullptr, nullptr}, .init = TensorInit::kNormWeight, .quantizable = false, .when = when};
}
constexpr Slot experts(std::string_view gguf, std::string_view hf, HDim<H> ne0, HDim<H> ne1) {
  return {.gguf = gguf, .hf = hf, .ne = {ne0, ne1, X}, .when = moe, .source = SlotSource::kMergedExperts};
}

// GGUF names are llama.cpp's `deepseek2` ones; W_UK / W_UV are written split
// per head (attn_k_b stored transposed [H][Ckv][Dn], attn_v_b [H][Dv][Ckv]).
constexpr Slot kDeepseekSlots[] = {
    {.gguf = ct::kTokenEmbd.gguf, .hf = ct::kTokenEmbd.hf, .scope = kGlobal, .ne = {E, V, nullptr},
     .init = TensorInit::kEmbedding},
    // MTP module extras (DeepSeek-V3 §2.2): x = eh_proj([enorm(emb) ; hnorm(h)]), then a decoder layer.
    norm("nextn.enorm.weight", "enorm.weight", E, mtp),
    norm("nextn.hnorm.weight", "hnorm.weight", E, mtp),
    mat("nextn.eh_proj.weight", "eh_proj.weight", E2, E, mtp),
    norm("nextn.shared_head_norm.weight", "shared_head.norm.weight", E, mtp),
    norm(ct::kAttnNorm.gguf, ct::kAttnNorm.hf, E),
    mat("attn_q_a.weight", "self_attn.q_a_proj.weight", E, Cq, q_lora),
    norm("attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight", Cq, q_lora),
    mat("attn_q_b.weight", "self_attn.q_b_proj.weight", Cq, HDq, q_lora),
    mat(ct::kAttnQ.gguf, ct::kAttnQ.hf, E, HDq, no_q_lora),
    mat("attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight", E, CkvDr),
    norm("attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight", Ckv),
    {.gguf = "attn_k_b.weight", .hf = "", .ne = {Dn, Ckv, Hd}, .source = SlotSource::kKeyOfJoint, .fan_in = Ckv},
    {.gguf = "attn_v_b.weight", .hf = "", .ne = {Ckv, Dv, Hd}, .source = SlotSource::kValueOfJoint},
    {.gguf = "attn_kv_b.weight", .hf = "self_attn.kv_b_proj.weight", .ne = {Ckv, HDnv, nullptr},
     .source = SlotSource::kAlternative},
    mat(ct::kAttnOut.gguf, ct::kAttnOut.hf, HDv, E),
    // V3.2's lightning indexer (GGUF names as llama.cpp's DSA models use).
    mat("indexer.attn_q_b.weight", "self_attn.indexer.wq_b.weight", Cq, HiDi, indexer),
    mat("indexer.attn_k.weight", "self_attn.indexer.wk.weight", E, Di, indexer),
    norm("indexer.k_norm.weight", "self_attn.indexer.k_norm.weight", Di, indexer),
    {.gguf = "indexer.k_norm.bias", .hf = "self_attn.indexer.k_norm.bias", .ne = {Di, nullptr, nullptr},
     .init = TensorInit::kBias, .quantizable = false, .when = indexer},
    mat("indexer.proj.weight", "self_attn.indexer.weights_proj.weight", E, Hi, indexer),
    norm(ct::kFfnNorm.gguf, ct::kFfnNorm.hf, E),
    mat(ct::kFfnGate.gguf, ct::kFfnGate.hf, E, F, dense),
    mat(ct::kFfnDown.gguf, ct::kFfnDown.hf, F, E, dense),
    mat(ct::kFfnUp.gguf, ct::kFfnUp.hf, E, F, dense),
    {.gguf = "ffn_gate_inp.weight", .hf = "mlp.gate.weight", .ne = {E, X, nullptr}, .init = TensorInit::kRouter,
     .quantizable = false, .when = moe},
    {.gguf = "exp_probs_b.bias", .hf = "mlp.gate.e_score_correction_bias", .ne = {X, nullptr, nullptr},
     .init = TensorInit::kBias, .quantizable = false, .when = moe_bias},
    experts("ffn_gate_exps.weight", "mlp.experts.*.gate_proj.weight", E, Fe),
    experts("ffn_down_exps.weight", "mlp.experts.*.down_proj.weight", Fe, E),
    experts("ffn_up_exps.weight", "mlp.experts.*.up_proj.weight", E, Fe),
    mat("ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight", E, FeXs, moe_shared),
    mat("ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight", FeXs, E, moe_shared),
    mat("ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight", E, FeXs, moe_shared),
    {.gguf = ct::kOutputNorm.gguf, .hf = ct::kOutputNorm.hf, .scope = kGlobal, .ne = {E, nullptr, nullptr},
     .init = TensorInit::kNormWeight, .quantizable = false},
    {.gguf = ct::kOutput.gguf, .hf = ct::kOutput.hf, .scope = kGlobal, .ne = {E, V, nullptr},
     .init = TensorInit::kOutputHead},
};
static_assert(std::size(kDeepseekSlots) == static_cast<size_t>(DsTensor::kOutput) + 1, "one slot per DsTensor, in order");

class DeepseekArch final : public Architecture {
 public:
  explicit DeepseekArch(DeepseekHParams h) : h_(std::move(h)) {}

  std::string_view name() const override { return h_.variant; }
  // llama.cpp names V3.2 `deepseek32` (its DSA support); the rest are `deepseek2`.
  std::string_view gguf_arch() const override { return h_.index_n_heads > 0 ? "deepseek32" : "deepseek2"; }
  int64_t vocab_size() const override { return h_.n_vocab; }
  int64_t context_length() const override { return h_.n_ctx; }

  // Every layer's cache row (MTP layers too, indexer record included) per token, for each --cache-type.
  std::string cache_bytes_by_type() const {
    const int64_t index = h_.index_n_heads > 0 ? dsa_cache_floats(h_.index_head_dim) : 0;
    std::string out;
    for (KvCacheType t : {KvCacheType::kF32, KvCacheType::kBf16, KvCacheType::kFp8}) {
      const int64_t floats = kernels::cache_row_floats(t, h_.kv_lora_rank, h_.d_rope) + index;
      out += (out.empty() ? "" : ", ") + std::string(kv_cache_type_name(t)) + " " +
             std::to_string(floats * 4 * (h_.n_layer + h_.n_mtp));
    }
    return out + " (" + std::to_string(h_.n_layer + h_.n_mtp) + " layers)";
  }

  std::vector<std::pair<std::string, std::string>> describe() const override {
    auto s = [](auto x) { std::ostringstream o; o << x; return o.str(); };
    std::vector<std::pair<std::string, std::string>> d = {
        {"n_vocab", s(h_.n_vocab)}, {"n_embd", s(h_.n_embd)}, {"n_layer", s(h_.n_layer)},
        {"n_head", s(h_.n_head)}, {"n_ctx", s(h_.n_ctx)},
        {"q_lora_rank", h_.q_lora_rank ? s(h_.q_lora_rank) : "0 (no query compression)"},
        {"kv_lora_rank", s(h_.kv_lora_rank)}, {"d_head_nope", s(h_.d_nope)}, {"d_head_rope", s(h_.d_rope)},
        {"d_head_v", s(h_.d_v)}, {"n_dense_lead", s(h_.n_dense_lead)}, {"n_ff", s(h_.n_ff)},
        {"n_expert", s(h_.n_expert)}, {"n_expert_shared", s(h_.n_expert_shared)},
        {"n_expert_used", s(h_.n_expert_used)}, {"n_ff_exp", s(h_.n_ff_exp)},
        {"expert_groups", s(h_.n_group) + " (use " + s(h_.n_group_used) + ")"},
        {"gating", h_.gating == Gating::kSigmoid ? "sigmoid" : "softmax"},
        {"expert_weights_norm", h_.norm_topk ? "true" : "false"},
        {"expert_bias", h_.expert_bias ? "true (noaux_tc)" : "false"},
        {"routed_scaling_factor", s(h_.route_scale)}, {"rope_theta", s(h_.rope_theta)},
        {"rms_norm_eps", s(h_.rms_eps)}, {"n_mtp (nextn layers)", s(h_.n_mtp)},
        {"kv cache / token / layer", s(h_.kv_lora_rank + h_.d_rope) + " values (latent + rope key)"},
    };
    if (h_.index_n_heads > 0) {
      d.push_back({"sparse attention (DSA)", "indexer " + s(h_.index_n_heads) + " heads x " + s(h_.index_head_dim) +
                                                 ", top-k " + s(h_.index_topk) + " keys per query"});
      d.push_back({"indexer cache / token / layer", s(h_.index_head_dim + 4) + " bytes (FP8 E4M3 key + f32 scale)"});
    }
    d.push_back({"cache bytes / token (--cache-type)", cache_bytes_by_type()});
    if (h_.yarn_factor > 0)
      d.push_back({"rope_scaling", "yarn factor " + s(h_.yarn_factor) + ", original ctx " + s(h_.yarn_orig_ctx) +
                                       ", mscale_all_dim " + s(h_.mscale_all_dim)});
    return d;
  }

  std::vector<TensorSpec> tensor_specs() const override { return deepseek_tensors().specs(h_, h_.n_layer + h_.n_mtp); }

  void write_gguf_metadata(GgufWriter& w) const override {
    w.set("general.architecture", GgufValue::str(std::string(gguf_arch())));
    write_gguf_hparams<H>(deepseek_hparam_table(), std::string(gguf_arch()) + ".", h_, w);
  }

  double active_fraction(std::string_view name) const override {
    const bool routed = name.find("_exps.") != std::string_view::npos || name.find(".mlp.experts.") != std::string_view::npos;
    return routed && h_.n_expert > 0 ? static_cast<double>(h_.n_expert_used) / static_cast<double>(h_.n_expert) : 1.0;
  }

  bool is_mtp_tensor(std::string_view name) const override {
    const int64_t layer = layer_index(name);
    return layer >= h_.n_layer;
  }

  Result<std::unique_ptr<Model>> create_model(std::shared_ptr<const ModelFiles> files) const override {
    return create_deepseek_model(h_, std::move(files));
  }

 private:
  DeepseekHParams h_;
};

// ---- The layer ------------------------------------------------------------

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
  MtpInputWeights in;
  const float* head_norm = nullptr;
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
                                                        rope_.softmax_scale_factor()),
                    .cache_type = files_->cache_type};
    routing_ = RoutingConfig{.n_expert = h.n_expert, .n_used = h.n_expert_used, .n_group = h.n_group,
                             .n_group_used = h.n_group_used, .sigmoid = h.gating == Gating::kSigmoid,
                             .normalize = h.norm_topk, .scale = static_cast<float>(h.route_scale)};
  }

  Status bind() {
    WeightBinder b(files_->weights, files_->path, owned_);
    b.set_adapters(files_->adapters.get());
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
      mtp_->in = {t.vec(b, DsTensor::kMtpENorm, h_, L), t.vec(b, DsTensor::kMtpHNorm, h_, L),
                  t.matrix(b, DsTensor::kMtpEhProj, h_, L)};
      mtp_->head_norm = t.vec(b, DsTensor::kMtpHeadNorm, h_, L);
      bind_layer(b, L, mtp_->layer);
    }
    return b.status();
  }

  const Architecture& arch() const override { return *files_->arch; }
  int64_t n_ctx() const override { return h_.n_ctx; }
  // Float slots of [c_kv | k_rope] in a cache row, as --cache-type stores it.
  int64_t latent_floats() const { return kernels::cache_row_floats(dims_.cache_type, h_.kv_lora_rank, h_.d_rope); }
  // A row per token and layer: [c_kv | k_rope], then V3.2's indexer key record.
  KvCache new_cache(int64_t n_ctx) const override {
    const int64_t index = h_.index_n_heads > 0 ? dsa_cache_floats(h_.index_head_dim) : 0;
    return KvCache(h_.n_layer + h_.n_mtp, n_ctx, latent_floats() + index);
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
    float* x = arena.take<float>((T - 1) * E);
    const AttnSeq mtp_seq{0, T - 1, 0, &cache};
    run_mtp(h, tokens.subspan(1), mtp_seq, h_.n_layer, pool, arena, x);
    linear(pool, trunk_.head, x, T - 1, logits, arena);
    return ok_status();
  }

  bool has_mtp() const override { return mtp_ != nullptr; }
  std::vector<const MoeWeights*> moe_layers() const override {
    std::vector<const MoeWeights*> out;
    for (const LayerWeights& lw : layers_) out.push_back(lw.dense ? nullptr : &lw.moe);
    return out;
  }
  // The MTP layer alone: one cache layer (index 0 in forward_mtp_step).
  KvCache new_mtp_cache(int64_t n_ctx) const override { return KvCache(1, n_ctx, new_cache(1).width()); }

  Status forward_mtp_step(const float* hidden, std::span<const int32_t> next, KvCache& mtp_cache, ThreadPool& pool,
                          float* logits, float* hidden_out) const override {
    if (!mtp_) return Status::error("this model has no multi-token-prediction layer");
    if (Status st = check_forward_input(next, mtp_cache, h_.n_vocab); !st.ok()) return st;
    const int64_t n = static_cast<int64_t>(next.size()), E = h_.n_embd;
    StepArena arena;
    float* x = arena.take<float>(n * E);  // the rows' outputs; the last feeds the head
    run_mtp(hidden, next, AttnSeq{0, n, mtp_cache.n_past, &mtp_cache}, 0, pool, arena, x);
    const float* last = x + (n - 1) * E;
    if (hidden_out) std::copy(last, last + E, hidden_out);
    linear(pool, trunk_.head, last, 1, logits, arena);
    mtp_cache.n_past += n;
    return ok_status();
  }

 private:
  // The MTP module over n = seq.n_tok rows: x_i = eh_proj [enorm(Emb(next_i)) ;
  // hnorm(h_i)], then its decoder layer (cache layer `cache_layer`), then the
  // shared head norm; x [n x E] is ready for the output head.
  void run_mtp(const float* h, std::span<const int32_t> next, const AttnSeq& seq, int64_t cache_layer,
               ThreadPool& pool, StepArena& arena, float* x) const {
    mtp_input(pool, mtp_->in, trunk_.embd, h, next, h_.n_embd, dims_.eps, x, arena);
    run_block(mtp_->layer, cache_layer, x, LayerStep{pool, {&seq, 1}, seq.n_tok, AttentionMode::kAbsorbed, arena});
    rms_norm_rows(x, mtp_->head_norm, x, seq.n_tok, h_.n_embd, dims_.eps);
  }

  // Where a block's routed experts run: --ep's executor for the trunk's layers
  // (run_block's index is theirs); the MTP layer's, indexed by its cache layer, here.
  const ExpertExecutor* routed_executor(const LayerWeights& lw) const {
    return mtp_ && &lw == &mtp_->layer ? nullptr : files_->experts.get();
  }

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
    else moe_forward(s.pool, routing_, lw.moe, xn, T, E, y, s.arena, nullptr, routed_executor(lw), l);
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
    // bench --dense: no indexer, so every key is attended (the rows keep the room for its keys, unwritten).
    if (t.present(kIdxQB, h_, i) && !files_->dense_attention) bind_indexer(b, i, a.dsa);
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

  void bind_indexer(WeightBinder& b, int64_t i, DsaWeights& w) const {
    using enum DsTensor;
    const DeepseekTensors& t = deepseek_tensors();
    w.n_head = h_.index_n_heads, w.head_dim = h_.index_head_dim, w.topk = h_.index_topk;
    w.d_rope = h_.d_rope, w.cache_offset = latent_floats();
    w.wq_b = t.matrix(b, kIdxQB, h_, i);
    w.wk = t.matrix(b, kIdxK, h_, i);
    w.k_norm = t.vec(b, kIdxKNorm, h_, i);
    w.k_norm_bias = t.vec(b, kIdxKNormBias, h_, i);
    w.proj = t.matrix(b, kIdxProj, h_, i);
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

const DeepseekTensors& deepseek_tensors() {
  static const DeepseekTensors table{kDeepseekSlots};
  return table;
}

Result<std::unique_ptr<Architecture>> deepseek_preset(std::string_view arch, std::string_view preset, int64_t n_vocab,
                                                       int64_t n_mtp, int64_t n_layer) {
  if (preset != "tiny" && preset != "small" && preset != "v2-lite" && preset != "v32")
    return Status::error("unknown preset '" + std::string(preset) + "' (tiny, small, v2-lite, v32)");
  if (preset == "v2-lite" && arch != "deepseek-v2")
    return Status::error("preset v2-lite is DeepSeek-V2-Lite: use --arch deepseek-v2");
  if (preset == "v32" && arch != "deepseek-v32")
    return Status::error("preset v32 is DeepSeek-V3.2: use --arch deepseek-v32");
  DeepseekHParams h = deepseek_preset_hparams(arch, preset);
  h.n_vocab = n_vocab;
  if (n_mtp >= 0) h.n_mtp = n_mtp;
  if (n_layer > 0) {
    // Fewer layers of the real shapes: keep at least one MoE layer when there are
    // two or more, so a cut-down V3 still measures what V3 spends its time on.
    h.n_layer = n_layer;
    h.n_dense_lead = std::min(h.n_dense_lead, n_layer > 1 ? n_layer - 1 : n_layer);
  }
  Status st = deepseek_validate(h, "preset " + std::string(preset));
  if (!st.ok()) return st;
  return std::unique_ptr<Architecture>(new DeepseekArch(h));
}

Result<std::unique_ptr<Architecture>> deepseek_from_gguf(const GgufFile& f) {
  auto h = deepseek_hparams_from_gguf(f);
  if (!h.ok()) return h.status();
  return std::unique_ptr<Architecture>(new DeepseekArch(*h));
}

// Keys under the file's own architecture: `deepseek32.` (llama.cpp's V3.2, and
// ours since) or `deepseek2.` (V2/V3, and V3.2 files dseek wrote before).
Result<DeepseekHParams> deepseek_hparams_from_gguf(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture").value_or("deepseek2");
  GgufKeys k(f, arch + ".");
  DeepseekHParams h;
  read_gguf_hparams<H>(deepseek_hparam_table(), f, k, h);
  if (!k.ok()) return k.status();
  if (arch == "deepseek32" && h.index_n_heads == 0)  // would silently run dense attention
    return Status::error(f.path() + ": a deepseek32 file without deepseek32.attention.indexer.* keys (its sparse attention)");
  Status st = deepseek_validate(h, f.path());
  if (!st.ok()) return st;
  return h;
}

Result<std::unique_ptr<Architecture>> deepseek_from_hf_config(const nlohmann::json& c) {
  auto h = deepseek_hparams_from_hf_config(c);
  if (!h.ok()) return h.status();
  return deepseek_from_hparams(*h);
}

Result<std::unique_ptr<Architecture>> deepseek_from_hparams(const DeepseekHParams& h) {
  Status st = deepseek_validate(h, "hyper-parameters");
  if (!st.ok()) return st;
  return std::unique_ptr<Architecture>(new DeepseekArch(h));
}

Result<DeepseekHParams> deepseek_hparams_from_hf_config(const nlohmann::json& c) {
  JsonKeys k(c, "config.json");
  DeepseekHParams h;
  read_hf_hparams<H>(deepseek_hparam_table(), c, k, h);
  if (!k.ok()) return k.status();
  Status st = deepseek_validate(h, "config.json");
  if (!st.ok()) return st;
  return h;
}

Result<std::unique_ptr<Model>> create_deepseek_model(const DeepseekHParams& h, std::shared_ptr<const ModelFiles> files) {
  return make_bound_model<DeepseekModel>(h, std::move(files));
}

}  // namespace dseek
