// DeepSeek-V4 (Flash / Pro): manifold-constrained hyper-connections around
// every sub-block (blocks/mhc.h), sliding-window attention over one K = V
// latent head with sinks and a grouped low-rank output (blocks/v4_attention.h),
// compressed attention on CSA / HCA layers (the v4_compressor / v4_indexer
// blocks plug in at `compressed_keys`), and a sqrt-softplus MoE whose first
// layers route by a frozen token -> experts table. The tensor table (GGUF
// names after llama.cpp's `deepseek4`, transformers' HF names), accounting and
// the layer; hyper-parameters and presets in arch/deepseek_v4_hparams.cpp.
// Equations: docs/design/deepseek-v4.md §2.
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/arch.h"
#include "model/arch/deepseek_v4_hparams.h"
#include "model/arch_util.h"
#include "model/blocks/linear.h"
#include "model/blocks/mhc.h"
#include "model/blocks/moe.h"
#include "model/blocks/mtp_input.h"
#include "model/blocks/rope.h"
#include "model/blocks/v4_attention.h"
#include "model/blocks/v4_compressed_attention.h"
#include "model/common_tensors.h"
#include "model/decoder.h"
#include "model/tensor_table.h"
#include "model/weight_binder.h"

namespace dseek {
namespace {

namespace ct = common_tensors;
using H = DeepseekV4HParams;
using Slot = TensorSlot<H>;
constexpr SlotScope kGlobal = SlotScope::kGlobal;

enum class V4Tensor {
  kTokenEmbd,
  kHcAttnFn, kHcAttnBase, kHcAttnScale, kAttnNorm, kQA, kQANorm, kQB, kKv, kKvNorm, kSinks, kOutA, kOutB,
  kCsaCompKv, kCsaCompGate, kCsaCompApe, kHcaCompKv, kHcaCompGate, kHcaCompApe, kCompNorm,
  kIdxQB, kIdxProj, kIdxCompKv, kIdxCompGate, kIdxCompApe, kIdxCompNorm,
  kHcFfnFn, kHcFfnBase, kHcFfnScale, kFfnNorm, kRouter, kExpBias, kTid2Eid,
  kGateExps, kDownExps, kUpExps, kGateShexp, kDownShexp, kUpShexp,
  kHcHeadFn, kHcHeadBase, kHcHeadScale, kOutputNorm, kOutput,
  kMtpEProj, kMtpHProj, kMtpENorm, kMtpHNorm, kMtpNorm, kMtpHcFn, kMtpHcBase, kMtpHcScale,
};
using V4Tensors = TensorTable<H, V4Tensor>;

int64_t E(const H& h) { return h.n_embd; }
int64_t nE(const H& h) { return h.hc_mult * h.n_embd; }
int64_t V(const H& h) { return h.n_vocab; }
int64_t Mix(const H& h) { return h.hc_mix(); }
int64_t Nhc(const H& h) { return h.hc_mult; }
int64_t Three(const H&) { return 3; }
int64_t One(const H&) { return 1; }
int64_t Hd(const H& h) { return h.n_head; }
int64_t D(const H& h) { return h.head_dim; }
int64_t HD(const H& h) { return h.n_head * h.head_dim; }
int64_t Cq(const H& h) { return h.q_lora_rank; }
int64_t GroupIn(const H& h) { return h.n_head * h.head_dim / h.o_groups; }
int64_t GR(const H& h) { return h.o_groups * h.o_lora_rank; }
int64_t Fe(const H& h) { return h.n_ff_exp; }
int64_t X(const H& h) { return h.n_expert; }
int64_t K(const H& h) { return h.n_expert_used; }
int64_t FeXs(const H& h) { return h.n_ff_exp * h.n_expert_shared; }
int64_t D2(const H& h) { return 2 * h.head_dim; }  // CSA's compressor: "a" and "b" halves
int64_t Four(const H&) { return 4; }             // CSA's ratio
int64_t HcaRatio(const H& h) {                   // one per model (deepseek_v4_validate)
  for (int64_t r : h.compress_ratios)
    if (r > 4) return r;
  return 128;
}
int64_t Di(const H& h) { return h.index_head_dim; }
int64_t Di2(const H& h) { return 2 * h.index_head_dim; }
int64_t HDi(const H& h) { return h.index_n_heads * h.index_head_dim; }
int64_t Hi(const H& h) { return h.index_n_heads; }

bool hash(const H& h, int64_t l) { return h.hash_layer(l); }
bool scored(const H& h, int64_t l) { return !h.hash_layer(l); }
bool shared(const H& h, int64_t) { return h.n_expert_shared > 0; }
bool compressed(const H& h, int64_t l) { return h.kind(l) != V4LayerKind::kSliding; }
bool csa(const H& h, int64_t l) { return h.kind(l) == V4LayerKind::kCsa; }
bool hca(const H& h, int64_t l) { return h.kind(l) == V4LayerKind::kHca; }
bool mtp(const H& h, int64_t l) { return l >= h.n_layer; }

constexpr Slot mat(std::string_view gguf, std::string_view hf, HDim<H> ne0, HDim<H> ne1, bool (*when)(const H&, int64_t) = nullptr) {
  return {.gguf = gguf, .hf = hf, .ne = {ne0, ne1, nullptr}, .when = when};
}
constexpr Slot norm(std::string_view gguf, std::string_view hf, HDim<H> n) {
  return {.gguf = gguf, .hf = hf, .ne = {n, nullptr, nullptr}, .init = TensorInit::kNormWeight, .quantizable = false};
}
constexpr Slot f32(std::string_view gguf, std::string_view hf, HDim<H> ne0, HDim<H> ne1, TensorInit init,
                   SlotScope scope = SlotScope::kLayer) {
  return {.gguf = gguf, .hf = hf, .scope = scope, .ne = {ne0, ne1, nullptr}, .init = init, .quantizable = false};
}
// The compressors' weights stay f32 (DeepSeek keeps them in f32 / bf16
// without scales: the pooling softmax is sensitive), as do their position biases.
constexpr Slot comp(std::string_view gguf, std::string_view hf, HDim<H> ne0, HDim<H> ne1, bool (*when)(const H&, int64_t),
                    TensorInit init = TensorInit::kMatrix) {
  return {.gguf = gguf, .hf = hf, .ne = {ne0, ne1, nullptr}, .init = init, .quantizable = false, .when = when};
}
constexpr Slot comp_norm(std::string_view gguf, std::string_view hf, HDim<H> n, bool (*when)(const H&, int64_t)) {
  return {.gguf = gguf, .hf = hf, .ne = {n, nullptr, nullptr}, .init = TensorInit::kNormWeight, .quantizable = false,
          .when = when};
}
constexpr Slot experts(std::string_view gguf, std::string_view hf, HDim<H> ne0, HDim<H> ne1) {
  return {.gguf = gguf, .hf = hf, .ne = {ne0, ne1, X}, .source = SlotSource::kMergedExperts};
}

// Random mixing scales of a few units (4 N(0,1)): the Sinkhorn iterations then
// converge slowly enough that their count shows in the logits, as in the
// released models (the sensitivity test relies on it).
constexpr TensorInit kHcScaleInit = TensorInit::kOutputHead;

// GGUF names follow llama.cpp's `deepseek4` (docs/design/deepseek-v4.md §3.5;
// the hc_* ".weight" names as a published V4 GGUF's header lists them); HF
// names are transformers' (§3.4), except the routed experts, which transformers merges into one
// gate_up tensor: here one tensor per expert, as V3 files have them.
constexpr Slot kV4Slots[] = {
    {.gguf = ct::kTokenEmbd.gguf, .hf = ct::kTokenEmbd.hf, .scope = kGlobal, .ne = {E, V, nullptr},
     .init = TensorInit::kEmbedding},
    f32("hc_attn_fn.weight", "attn_hc.fn", nE, Mix, TensorInit::kMatrix),
    f32("hc_attn_base.weight", "attn_hc.base", Mix, nullptr, TensorInit::kBias),
    f32("hc_attn_scale.weight", "attn_hc.scale", Three, nullptr, kHcScaleInit),
    norm(ct::kAttnNorm.gguf, ct::kAttnNorm.hf, E),
    mat("attn_q_a.weight", "self_attn.q_a_proj.weight", E, Cq),
    norm("attn_q_a_norm.weight", "self_attn.q_a_norm.weight", Cq),
    mat("attn_q_b.weight", "self_attn.q_b_proj.weight", Cq, HD),
    mat("attn_kv.weight", "self_attn.kv_proj.weight", E, D),
    norm("attn_kv_a_norm.weight", "self_attn.kv_norm.weight", D),
    f32("attn_sinks.weight", "self_attn.sinks", Hd, nullptr, TensorInit::kBias),
    mat("attn_output_a.weight", "self_attn.o_a_proj.weight", GroupIn, GR),
    mat("attn_output_b.weight", "self_attn.o_b_proj.weight", GR, E),
    // CSA and HCA share the compressor's names; their widths (c·d) and
    // position-bias rows (the ratio) differ, hence two slots per tensor.
    comp("attn_compressor_kv.weight", "self_attn.compressor.kv_proj.weight", E, D2, csa),
    comp("attn_compressor_gate.weight", "self_attn.compressor.gate_proj.weight", E, D2, csa),
    comp("attn_compressor_ape.weight", "self_attn.compressor.position_bias", D2, Four, csa, TensorInit::kBias),
    comp("attn_compressor_kv.weight", "self_attn.compressor.kv_proj.weight", E, D, hca),
    comp("attn_compressor_gate.weight", "self_attn.compressor.gate_proj.weight", E, D, hca),
    comp("attn_compressor_ape.weight", "self_attn.compressor.position_bias", D, HcaRatio, hca, TensorInit::kBias),
    comp_norm("attn_compressor_norm.weight", "self_attn.compressor.kv_norm.weight", D, compressed),
    mat("indexer.attn_q_b.weight", "self_attn.compressor.indexer.q_b_proj.weight", Cq, HDi, csa),
    mat("indexer.proj.weight", "self_attn.compressor.indexer.weights_proj.weight", E, Hi, csa),
    comp("indexer_compressor_kv.weight", "self_attn.compressor.indexer.kv_proj.weight", E, Di2, csa),
    comp("indexer_compressor_gate.weight", "self_attn.compressor.indexer.gate_proj.weight", E, Di2, csa),
    comp("indexer_compressor_ape.weight", "self_attn.compressor.indexer.position_bias", Di2, Four, csa, TensorInit::kBias),
    comp_norm("indexer_compressor_norm.weight", "self_attn.compressor.indexer.kv_norm.weight", Di, csa),
    f32("hc_ffn_fn.weight", "ffn_hc.fn", nE, Mix, TensorInit::kMatrix),
    f32("hc_ffn_base.weight", "ffn_hc.base", Mix, nullptr, TensorInit::kBias),
    f32("hc_ffn_scale.weight", "ffn_hc.scale", Three, nullptr, kHcScaleInit),
    norm(ct::kFfnNorm.gguf, ct::kFfnNorm.hf, E),
    f32("ffn_gate_inp.weight", "mlp.gate.weight", E, X, TensorInit::kRouter),
    {.gguf = "exp_probs_b.bias", .hf = "mlp.gate.e_score_correction_bias", .ne = {X, nullptr, nullptr},
     .init = TensorInit::kBias, .quantizable = false, .when = scored},
    {.gguf = "ffn_gate_tid2eid.weight", .hf = "mlp.gate.tid2eid", .ne = {K, V, nullptr}, .init = TensorInit::kExpertIds,
     .quantizable = false, .when = hash, .fan_in = X},
    experts("ffn_gate_exps.weight", "mlp.experts.*.gate_proj.weight", E, Fe),
    experts("ffn_down_exps.weight", "mlp.experts.*.down_proj.weight", Fe, E),
    experts("ffn_up_exps.weight", "mlp.experts.*.up_proj.weight", E, Fe),
    mat("ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight", E, FeXs, shared),
    mat("ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight", FeXs, E, shared),
    mat("ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight", E, FeXs, shared),
    f32("output_hc_fn.weight", "model.hc_head.hc_fn", nE, Nhc, TensorInit::kMatrix, kGlobal),
    f32("output_hc_base.weight", "model.hc_head.hc_base", Nhc, nullptr, TensorInit::kBias, kGlobal),
    f32("output_hc_scale.weight", "model.hc_head.hc_scale", One, nullptr, TensorInit::kNormWeight, kGlobal),
    {.gguf = ct::kOutputNorm.gguf, .hf = ct::kOutputNorm.hf, .scope = kGlobal, .ne = {E, nullptr, nullptr},
     .init = TensorInit::kNormWeight, .quantizable = false},
    {.gguf = ct::kOutput.gguf, .hf = ct::kOutput.hf, .scope = kGlobal, .ne = {E, V, nullptr},
     .init = TensorInit::kOutputHead},
    // The MTP block (§2.7): block n_layer + k carries the usual layer tensors
    // (sliding-only, never hash-routed) and these; GGUF names after V3's nextn.*.
    mat("nextn.e_proj.weight", "e_proj.weight", E, E, mtp),
    mat("nextn.h_proj.weight", "h_proj.weight", E, E, mtp),
    {.gguf = "nextn.enorm.weight", .hf = "enorm.weight", .ne = {E, nullptr, nullptr}, .init = TensorInit::kNormWeight,
     .quantizable = false, .when = mtp},
    {.gguf = "nextn.hnorm.weight", .hf = "hnorm.weight", .ne = {E, nullptr, nullptr}, .init = TensorInit::kNormWeight,
     .quantizable = false, .when = mtp},
    {.gguf = "nextn.norm.weight", .hf = "norm.weight", .ne = {E, nullptr, nullptr}, .init = TensorInit::kNormWeight,
     .quantizable = false, .when = mtp},
    {.gguf = "nextn.hc_head_fn.weight", .hf = "hc_head_fn", .ne = {nE, Nhc, nullptr}, .init = TensorInit::kMatrix,
     .quantizable = false, .when = mtp},
    {.gguf = "nextn.hc_head_base.weight", .hf = "hc_head_base", .ne = {Nhc, nullptr, nullptr}, .init = TensorInit::kBias,
     .quantizable = false, .when = mtp},
    {.gguf = "nextn.hc_head_scale.weight", .hf = "hc_head_scale", .ne = {One, nullptr, nullptr},
     .init = TensorInit::kNormWeight, .quantizable = false, .when = mtp},
};
static_assert(std::size(kV4Slots) == static_cast<size_t>(V4Tensor::kMtpHcScale) + 1, "one slot per V4Tensor, in order");

const V4Tensors& v4_tensors() {
  static const V4Tensors table{kV4Slots};
  return table;
}

class DeepseekV4Arch final : public Architecture {
 public:
  explicit DeepseekV4Arch(H h) : h_(std::move(h)) {}

  std::string_view name() const override { return "deepseek-v4"; }
  std::string_view gguf_arch() const override { return "deepseek4"; }
  int64_t vocab_size() const override { return h_.n_vocab; }
  int64_t context_length() const override { return h_.n_ctx; }

  std::vector<std::pair<std::string, std::string>> describe() const override {
    auto s = [](auto x) { std::ostringstream o; o << x; return o.str(); };
    std::string schedule;
    int64_t count[3] = {0, 0, 0};
    for (int64_t l = 0; l < h_.n_layer; ++l) {
      schedule += (l ? "," : "") + s(h_.compress_ratios[static_cast<size_t>(l)]);
      ++count[static_cast<int>(h_.kind(l))];
    }
    std::vector<std::pair<std::string, std::string>> out = {
        {"n_vocab", s(h_.n_vocab)}, {"n_embd", s(h_.n_embd)}, {"n_layer", s(h_.n_layer)}, {"n_head", s(h_.n_head)},
        {"n_ctx", s(h_.n_ctx)}, {"head_dim (K = V, one latent head)", s(h_.head_dim) + " (rope on the last " + s(h_.d_rope) + ")"},
        {"q_lora_rank", s(h_.q_lora_rank)}, {"output groups x lora rank", s(h_.o_groups) + " x " + s(h_.o_lora_rank)},
        {"sliding window", s(h_.window)}, {"compress ratios", schedule},
        {"layer kinds", s(count[0]) + " sliding, " + s(count[1]) + " CSA, " + s(count[2]) + " HCA"},
        {"hyper-connections", s(h_.hc_mult) + " streams, " + s(h_.hc_sinkhorn_iters) + " Sinkhorn iterations, eps " + s(h_.hc_eps)},
        {"rope_theta (sliding / compressed)", s(h_.rope_theta) + " / " + s(h_.compress_rope_theta)},
        {"n_expert", s(h_.n_expert) + " (+" + s(h_.n_expert_shared) + " shared), " + s(h_.n_expert_used) + " per token, ff " + s(h_.n_ff_exp)},
        {"routing", "sqrt(softplus), norm_topk " + std::string(h_.norm_topk ? "true" : "false") + ", scale " + s(h_.route_scale) +
                        ", first " + s(h_.n_hash_layers) + " layers hash-routed"},
        {"swiglu_limit", s(h_.swiglu_limit) + (h_.clamp_shared ? " (shared expert clamped too)" : "")},
        {"rms_norm_eps", s(h_.rms_eps)},
        // The cache keeps every position's key row (f32) and masks to the window
        // (the ring buffer of `window` rows per layer is still to come); compressed
        // layers add their entries (and CSA its index keys), f32.
        {"cache bytes / token / layer (sliding)", s(h_.head_dim * 4) + " (f32 key row; window " + s(h_.window) + " used)"},
        {"cache bytes / token / layer (CSA, HCA)", "+" + s(compressed_bytes(V4LayerKind::kCsa)) + ", +" +
                                                       s(compressed_bytes(V4LayerKind::kHca)) + " (f32 entries, index keys)"},
        {"cache bytes / token", s(static_cast<double>(h_.head_dim * 4 * h_.n_layer) + compressed_total()) + " (" +
                                    s(h_.n_layer) + " layers)"},
    };
    for (auto& line : deepseek_v4_cache_lines(h_)) out.push_back(std::move(line));
    return out;
  }

  std::vector<TensorSpec> tensor_specs() const override { return v4_tensors().specs(h_, h_.n_layer + h_.n_mtp); }

  void write_gguf_metadata(GgufWriter& w) const override {
    w.set("general.architecture", GgufValue::str("deepseek4"));
    write_gguf_hparams<H>(deepseek_v4_hparam_table(), "deepseek4.", h_, w);
  }

  double active_fraction(std::string_view name) const override {
    const bool routed = name.find("_exps.") != std::string_view::npos || name.find(".mlp.experts.") != std::string_view::npos;
    return routed ? static_cast<double>(h_.n_expert_used) / static_cast<double>(h_.n_expert) : 1.0;
  }
  bool is_mtp_tensor(std::string_view name) const override { return layer_index(name) >= h_.n_layer; }

  Result<std::unique_ptr<Model>> create_model(std::shared_ptr<const ModelFiles> files) const override;

 private:
  // Growing f32 bytes per token a compressed layer adds: entries d/m, CSA's index keys d_I/4.
  double compressed_bytes(V4LayerKind k) const {
    if (k == V4LayerKind::kSliding) return 0;
    if (k == V4LayerKind::kHca) return 4.0 * static_cast<double>(h_.head_dim) / static_cast<double>(HcaRatio(h_));
    return 4.0 * static_cast<double>(h_.head_dim + h_.index_head_dim) / 4.0;
  }
  double compressed_total() const {
    double b = 0;
    for (int64_t l = 0; l < h_.n_layer; ++l) b += compressed_bytes(h_.kind(l));
    return b;
  }

  H h_;
};

// ---- The layer ------------------------------------------------------------

struct V4LayerWeights {
  V4LayerKind kind = V4LayerKind::kSliding;
  MhcWeights hc_attn, hc_ffn;
  const float* attn_norm = nullptr;
  const float* ffn_norm = nullptr;
  V4AttnWeights attn;
  V4CompressedLayer comp;  // CSA / HCA layers only
  MoeWeights moe;
};

// The MTP block: its input projections and norms, one sliding layer, its own head collapse and norm.
struct V4MtpWeights {
  MtpStreamInputWeights in;
  V4LayerWeights layer;
  MhcWeights head;
  const float* norm = nullptr;
};

class DeepseekV4Model final : public Decoder {
 public:
  DeepseekV4Model(const H& h, std::shared_ptr<const ModelFiles> files)
      : h_(h), files_(std::move(files)), rope_main_(h.d_rope, h.rope_theta, YarnParams{}),
        rope_compressed_(h.d_rope, h.compress_rope_theta,
                         YarnParams{h.yarn_factor, h.yarn_orig_ctx, h.yarn_beta_fast, h.yarn_beta_slow, 0.0}) {
    const float eps = static_cast<float>(h.rms_eps);
    dims_ = V4AttnDims{.n_embd = h.n_embd, .n_head = h.n_head, .head_dim = h.head_dim, .d_rope = h.d_rope,
                       .q_lora_rank = h.q_lora_rank, .o_groups = h.o_groups, .o_lora_rank = h.o_lora_rank,
                       .window = h.window, .eps = eps,
                       .softmax_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(h.head_dim)))};
    hc_ = MhcConfig{.n = h.hc_mult, .n_embd = h.n_embd, .sinkhorn_iters = h.hc_sinkhorn_iters,
                    .hc_eps = static_cast<float>(h.hc_eps), .rms_eps = eps};
    routing_ = RoutingConfig{.n_expert = h.n_expert, .n_used = h.n_expert_used, .sqrt_softplus = true,
                             .normalize = h.norm_topk, .scale = static_cast<float>(h.route_scale)};
  }

  Status bind();
  const Architecture& arch() const override { return *files_->arch; }
  int64_t n_ctx() const override { return h_.n_ctx; }
  // One f32 key row per position and layer (window-masked at attention), and
  // the compressed layers' state as the cache's extension.
  KvCache new_cache(int64_t n_ctx) const override {
    KvCache c(h_.n_layer, n_ctx, h_.head_dim);
    c.extension = new_cache_extension();
    return c;
  }
  std::unique_ptr<CacheExtension> new_cache_extension() const override;
  // Every layer is MoE (hash-routed ones too: rank 0 routes, --ep's ranks only run experts).
  std::vector<const MoeWeights*> moe_layers() const override {
    std::vector<const MoeWeights*> out;
    for (const V4LayerWeights& lw : layers_) out.push_back(&lw.moe);
    return out;
  }
  Status forward_mtp(std::span<const int32_t> tokens, ThreadPool& pool, float* logits) const override;
  // MTP drafting reads the hc_mult residual streams before the head collapse (§2.7).
  bool has_mtp() const override { return mtp_ != nullptr; }
  int64_t mtp_hidden_width() const override { return h_.hc_mult * h_.n_embd; }
  KvCache new_mtp_cache(int64_t n_ctx) const override { return KvCache(1, n_ctx, h_.head_dim); }  // sliding: no extension
  Status forward_mtp_step(const float* hidden, std::span<const int32_t> next, KvCache& mtp_cache, ThreadPool& pool,
                          float* logits, float* hidden_out) const override;

 private:
  void run_layer(int64_t layer, float* x, const LayerStep& s) const override {
    run_block(layers_[static_cast<size_t>(layer)], layer, x, s, files_->experts.get());
  }
  // One block over x [T x n*E] in place, its attention on cache layer `cache_layer`.
  void run_block(const V4LayerWeights& lw, int64_t cache_layer, float* x, const LayerStep& s,
                 const ExpertExecutor* experts) const;
  // The MTP block over x [n x n*E] (its input streams, replaced by its output
  // streams), then its head: out [n x E] ready for the shared output head.
  void run_mtp(float* x, int64_t cache_layer, const LayerStep& s, float* out) const;
  bool hidden_is_streams() const override { return true; }
  Status check_caches(std::span<const CacheSpan> seqs) const override;
  void finish_trunk(float* x, const LayerStep& s) const override {
    mhc_head(s.pool, hc_, head_, x, s.n_tok, x, s.arena);
    rms_norm_rows(x, trunk_.out_norm, x, s.n_tok, h_.n_embd, trunk_.eps);
  }
  Status bind_layer(WeightBinder& b, int64_t i, V4LayerWeights& lw) const;
  void bind_compressed(WeightBinder& b, int64_t i, V4CompressedLayer& c) const;
  MhcWeights bind_hc(WeightBinder& b, V4Tensor fn, V4Tensor base, V4Tensor scale, int64_t i) const {
    const V4Tensors& t = v4_tensors();
    return {t.matrix(b, fn, h_, i), t.vec(b, base, h_, i), t.vec(b, scale, h_, i)};
  }

  H h_;
  std::shared_ptr<const ModelFiles> files_;
  WeightBinder::Storage owned_;
  RopeTable rope_main_, rope_compressed_;
  V4AttnDims dims_;
  MhcConfig hc_;
  RoutingConfig routing_;
  MhcWeights head_;
  std::vector<V4LayerWeights> layers_;
  std::unique_ptr<V4MtpWeights> mtp_;  // when the file has an MTP block (n_mtp > 0; the first is used)
  bool new_cache_extension_needed_ = false;  // some layer is CSA / HCA
};

Status DeepseekV4Model::bind() {
  WeightBinder b(files_->weights, files_->path, owned_);
  b.set_adapters(files_->adapters.get());
  const V4Tensors& t = v4_tensors();
  trunk_.n_embd = h_.n_embd, trunk_.n_vocab = h_.n_vocab, trunk_.n_layer = h_.n_layer;
  trunk_.n_streams = h_.hc_mult;
  trunk_.eps = static_cast<float>(h_.rms_eps);
  trunk_.embd = t.matrix(b, V4Tensor::kTokenEmbd, h_);
  trunk_.out_norm = t.vec(b, V4Tensor::kOutputNorm, h_);
  trunk_.head = t.matrix(b, V4Tensor::kOutput, h_);
  head_ = bind_hc(b, V4Tensor::kHcHeadFn, V4Tensor::kHcHeadBase, V4Tensor::kHcHeadScale, -1);
  layers_.resize(static_cast<size_t>(h_.n_layer));
  for (int64_t i = 0; i < h_.n_layer; ++i)
    if (Status st = bind_layer(b, i, layers_[static_cast<size_t>(i)]); !st.ok()) return st;
  for (int64_t i = 0; i < h_.n_layer; ++i) new_cache_extension_needed_ |= h_.kind(i) != V4LayerKind::kSliding;
  if (h_.n_mtp > 0) {
    using enum V4Tensor;
    const int64_t L = h_.n_layer;
    mtp_ = std::make_unique<V4MtpWeights>();
    mtp_->in = {t.vec(b, kMtpENorm, h_, L), t.vec(b, kMtpHNorm, h_, L), t.matrix(b, kMtpEProj, h_, L),
                t.matrix(b, kMtpHProj, h_, L)};
    mtp_->head = bind_hc(b, kMtpHcFn, kMtpHcBase, kMtpHcScale, L);
    mtp_->norm = t.vec(b, kMtpNorm, h_, L);
    if (Status st = bind_layer(b, L, mtp_->layer); !st.ok()) return st;
  }
  return b.status();
}

Status DeepseekV4Model::bind_layer(WeightBinder& b, int64_t i, V4LayerWeights& lw) const {
  using enum V4Tensor;
  const V4Tensors& t = v4_tensors();
  lw.kind = h_.kind(i);
  const auto pow2 = [](int64_t v) { return v > 0 && (v & (v - 1)) == 0; };  // the indexer's Hadamard
  if (lw.kind == V4LayerKind::kCsa &&
      !(h_.index_n_heads > 0 && h_.index_topk > 0 && pow2(h_.index_head_dim) && h_.index_head_dim >= h_.d_rope))
    return Status::error(files_->path + ": layer " + std::to_string(i) + " is CSA: it needs index_n_heads, index_topk " +
                         "and a power-of-two index_head_dim of at least qk_rope_head_dim");
  if (lw.kind != V4LayerKind::kSliding) bind_compressed(b, i, lw.comp);
  lw.hc_attn = bind_hc(b, kHcAttnFn, kHcAttnBase, kHcAttnScale, i);
  lw.hc_ffn = bind_hc(b, kHcFfnFn, kHcFfnBase, kHcFfnScale, i);
  lw.attn_norm = t.vec(b, kAttnNorm, h_, i);
  lw.ffn_norm = t.vec(b, kFfnNorm, h_, i);
  V4AttnWeights& a = lw.attn;
  a.q_a = t.matrix(b, kQA, h_, i), a.q_norm = t.vec(b, kQANorm, h_, i), a.q_b = t.matrix(b, kQB, h_, i);
  a.kv = t.matrix(b, kKv, h_, i), a.kv_norm = t.vec(b, kKvNorm, h_, i), a.sinks = t.vec(b, kSinks, h_, i);
  a.o_a = t.matrix(b, kOutA, h_, i), a.o_b = t.matrix(b, kOutB, h_, i);
  MoeWeights& m = lw.moe;
  m.router = t.matrix(b, kRouter, h_, i);
  if (t.present(kExpBias, h_, i)) m.bias = t.vec(b, kExpBias, h_, i);
  if (t.present(kTid2Eid, h_, i)) {
    const float* ids = b.vec(t.gguf_name(kTid2Eid, i), t.hf_name(kTid2Eid, i), h_.n_vocab * h_.n_expert_used);
    for (int64_t j = 0; ids && j < h_.n_vocab * h_.n_expert_used; ++j)
      if (!(ids[j] >= 0 && ids[j] < static_cast<float>(h_.n_expert) && ids[j] == std::floor(ids[j])))
        return Status::error(files_->path + ": layer " + std::to_string(i) + " tid2eid holds an expert id outside 0.." +
                             std::to_string(h_.n_expert - 1));
    m.hash_experts = ids;
  }
  m.swiglu_limit = static_cast<float>(h_.swiglu_limit);
  m.clamp_shared = h_.clamp_shared;
  const kernels::MatrixView gate = t.matrix(b, kGateExps, h_, i), up = t.matrix(b, kUpExps, h_, i);
  const kernels::MatrixView down = t.matrix(b, kDownExps, h_, i);
  m.experts.resize(static_cast<size_t>(h_.n_expert));
  for (int64_t e = 0; e < h_.n_expert; ++e)
    m.experts[static_cast<size_t>(e)] = {kernels::matrix_rows(gate, e * h_.n_ff_exp, h_.n_ff_exp),
                                         kernels::matrix_rows(up, e * h_.n_ff_exp, h_.n_ff_exp),
                                         kernels::matrix_rows(down, e * h_.n_embd, h_.n_embd)};
  m.has_shared = t.present(kGateShexp, h_, i);
  if (m.has_shared) m.shared = {t.matrix(b, kGateShexp, h_, i), t.matrix(b, kUpShexp, h_, i), t.matrix(b, kDownShexp, h_, i)};
  return ok_status();
}

void DeepseekV4Model::bind_compressed(WeightBinder& b, int64_t i, V4CompressedLayer& c) const {
  using enum V4Tensor;
  const V4Tensors& t = v4_tensors();
  const bool sparse = h_.kind(i) == V4LayerKind::kCsa;
  const V4Tensor kv = sparse ? kCsaCompKv : kHcaCompKv, gate = sparse ? kCsaCompGate : kHcaCompGate;
  const V4Tensor ape = sparse ? kCsaCompApe : kHcaCompApe;
  const float eps = static_cast<float>(h_.rms_eps);
  V4CompressorWeights& e = c.entries;
  e = {.ratio = h_.compress_ratios[static_cast<size_t>(i)], .dim = h_.head_dim, .d_rope = h_.d_rope, .overlap = sparse,
       .eps = eps, .wkv = t.matrix(b, kv, h_, i), .wgate = t.matrix(b, gate, h_, i), .norm = t.vec(b, kCompNorm, h_, i)};
  e.ape = b.vec(t.gguf_name(ape, i), t.hf_name(ape, i), e.ratio * e.width());
  c.sparse = sparse;
  if (!sparse) return;
  V4IndexerWeights& x = c.index;
  x = {.n_head = h_.index_n_heads, .head_dim = h_.index_head_dim, .d_rope = h_.d_rope, .topk = h_.index_topk,
       .wq_b = t.matrix(b, kIdxQB, h_, i), .proj = t.matrix(b, kIdxProj, h_, i)};
  x.keys = {.ratio = 4, .dim = h_.index_head_dim, .d_rope = h_.d_rope, .overlap = true, .hadamard = true, .eps = eps,
            .wkv = t.matrix(b, kIdxCompKv, h_, i), .wgate = t.matrix(b, kIdxCompGate, h_, i),
            .norm = t.vec(b, kIdxCompNorm, h_, i)};
  x.keys.ape = b.vec(t.gguf_name(kIdxCompApe, i), t.hf_name(kIdxCompApe, i), 4 * x.keys.width());
}

std::unique_ptr<CacheExtension> DeepseekV4Model::new_cache_extension() const {
  std::vector<const V4CompressedLayer*> comp;
  bool any = false;
  for (const V4LayerWeights& lw : layers_) {
    comp.push_back(lw.kind == V4LayerKind::kSliding ? nullptr : &lw.comp);
    any = any || comp.back();
  }
  if (!any) return nullptr;
  return std::make_unique<V4CompressedCache>(comp);
}

// The compressed state can only move forward: a step must start where it
// stands (or at 0, which starts the sequence afresh).
Status DeepseekV4Model::check_caches(std::span<const CacheSpan> seqs) const {
  if (!new_cache_extension_needed_) return ok_status();
  for (const CacheSpan& s : seqs) {
    CacheExtension* ext = s.cache->extension.get();
    if (!ext || !dynamic_cast<V4CompressedCache*>(ext))
      return Status::error("deepseek-v4: this cache has no compressed-attention state (make it with the model's new_cache)");
    if (s.pos0 == 0) ext->clear();
    if (ext->n_tokens() != s.pos0)
      return Status::error("deepseek-v4: compressed attention cannot rewind or skip: its cache holds " +
                           std::to_string(ext->n_tokens()) + " positions, the step starts at " + std::to_string(s.pos0) +
                           " (prefix reuse, speculative decoding and bench depths are off for it)");
  }
  return ok_status();
}

// Streams x [T x n*E]: attention, then the MoE FFN, each wrapped in its own
// hyper-connection (mhc_pre -> norm -> sub-block -> mhc_post).
void DeepseekV4Model::run_block(const V4LayerWeights& lw, int64_t layer, float* x, const LayerStep& s,
                                const ExpertExecutor* experts) const {
  const StepArena::Scope scope(s.arena);
  const int64_t T = s.n_tok, E = h_.n_embd, n = h_.hc_mult;
  float* y = s.arena.take<float>(T * E);
  float* f = s.arena.take<float>(T * E);
  float* post = s.arena.take<float>(T * n);
  float* comb = s.arena.take<float>(T * n * n);
  mhc_pre(s.pool, hc_, lw.hc_attn, x, T, y, post, comb, s.arena);
  rms_norm_rows(y, lw.attn_norm, y, T, E, dims_.eps);
  const RopeTable& rope = lw.kind == V4LayerKind::kSliding ? rope_main_ : rope_compressed_;
  if (lw.kind == V4LayerKind::kSliding)
    v4_attention_forward(s.pool, dims_, lw.attn, rope, y, s.seqs, layer, f, s.arena);
  else
    v4_compressed_attention(s.pool, dims_, lw.attn, lw.comp, rope, y, s.seqs, layer, f, s.arena);
  mhc_post(hc_, x, f, post, comb, T, s.arena);
  mhc_pre(s.pool, hc_, lw.hc_ffn, x, T, y, post, comb, s.arena);
  rms_norm_rows(y, lw.ffn_norm, y, T, E, dims_.eps);
  moe_forward(s.pool, routing_, lw.moe, y, T, E, f, s.arena, s.tokens.data(), experts, layer);
  mhc_post(hc_, x, f, post, comb, T, s.arena);
}

void DeepseekV4Model::run_mtp(float* x, int64_t cache_layer, const LayerStep& s, float* out) const {
  run_block(mtp_->layer, cache_layer, x, s, nullptr);  // --ep places the trunk's experts only
  mhc_head(s.pool, hc_, mtp_->head, x, s.n_tok, out, s.arena);
  rms_norm_rows(out, mtp_->norm, out, s.n_tok, h_.n_embd, trunk_.eps);
}

// Whole-prompt MTP logits [(T-1) x V]: row i drafts token i+2 from the trunk's
// streams at i (before the head collapse) and token i+1. The MTP block's
// sliding attention keeps its keys in cache layer n_layer.
Status DeepseekV4Model::forward_mtp(std::span<const int32_t> tokens, ThreadPool& pool, float* logits) const {
  if (!mtp_) return Status::error("this model has no multi-token-prediction layer");
  const int64_t T = static_cast<int64_t>(tokens.size()), E = h_.n_embd, n = h_.hc_mult;
  if (T < 2) return Status::error("MTP needs at least two tokens");
  KvCache cache(h_.n_layer + 1, T, h_.head_dim);
  cache.extension = new_cache_extension();
  if (Status st = check_forward_input(tokens, cache, h_.n_vocab); !st.ok()) return st;
  StepArena arena;
  float* x = arena.take<float>(T * n * E);
  float* streams = arena.take<float>(T * n * E);
  const CacheSpan trunk_seq{0, T, 0, &cache};
  run_trunk(tokens, LayerStep{pool, {&trunk_seq, 1}, T, AttentionMode::kAuto, arena}, x, streams);
  const auto next = tokens.subspan(1);
  float* m = arena.take<float>((T - 1) * n * E);
  mtp_stream_input(pool, mtp_->in, trunk_.embd, streams, next, n, E, trunk_.eps, m, arena);
  const CacheSpan mtp_seq{0, T - 1, 0, &cache};
  float* out = arena.take<float>((T - 1) * E);
  run_mtp(m, h_.n_layer, LayerStep{pool, {&mtp_seq, 1}, T - 1, AttentionMode::kAuto, arena, next}, out);
  linear(pool, trunk_.head, out, T - 1, logits, arena);
  return ok_status();
}

Status DeepseekV4Model::forward_mtp_step(const float* hidden, std::span<const int32_t> next, KvCache& mtp_cache,
                                         ThreadPool& pool, float* logits, float* hidden_out) const {
  if (!mtp_) return Status::error("this model has no multi-token-prediction layer");
  if (Status st = check_forward_input(next, mtp_cache, h_.n_vocab); !st.ok()) return st;
  const int64_t rows = static_cast<int64_t>(next.size()), E = h_.n_embd, n = h_.hc_mult;
  StepArena arena;
  float* x = arena.take<float>(rows * n * E);
  float* out = arena.take<float>(rows * E);
  mtp_stream_input(pool, mtp_->in, trunk_.embd, hidden, next, n, E, trunk_.eps, x, arena);
  const CacheSpan seq{0, rows, mtp_cache.n_past, &mtp_cache};
  run_mtp(x, 0, LayerStep{pool, {&seq, 1}, rows, AttentionMode::kAuto, arena, next}, out);
  const float* last = x + (rows - 1) * n * E;  // the block's output streams: the next link's input
  if (hidden_out) std::copy(last, last + n * E, hidden_out);
  linear(pool, trunk_.head, out + (rows - 1) * E, 1, logits, arena);
  mtp_cache.n_past += rows;
  return ok_status();
}

Result<std::unique_ptr<Model>> DeepseekV4Arch::create_model(std::shared_ptr<const ModelFiles> files) const {
  return make_bound_model<DeepseekV4Model>(h_, std::move(files));
}

}  // namespace

Result<std::unique_ptr<Architecture>> deepseek_v4_from_gguf(const GgufFile& f) {
  auto h = deepseek_v4_hparams_from_gguf(f);
  if (!h.ok()) return h.status();
  return std::unique_ptr<Architecture>(new DeepseekV4Arch(*h));
}

Result<std::unique_ptr<Architecture>> deepseek_v4_from_hf_config(const nlohmann::json& c) {
  auto h = deepseek_v4_hparams_from_hf_config(c);
  if (!h.ok()) return h.status();
  return std::unique_ptr<Architecture>(new DeepseekV4Arch(*h));
}

Result<std::unique_ptr<Architecture>> deepseek_v4_preset(std::string_view preset, int64_t n_vocab, int64_t n_mtp,
                                                          int64_t n_layer) {
  if (!deepseek_v4_known_preset(preset)) return Status::error("unknown preset '" + std::string(preset) + "' (tiny, small, flash)");
  H h = deepseek_v4_preset_hparams(preset);
  h.n_vocab = n_vocab;
  if (n_mtp >= 0) h.n_mtp = n_mtp;
  if (n_layer > 0) {
    h.n_layer = n_layer;
    h.compress_ratios.resize(static_cast<size_t>(n_layer), 0);
  }
  if (Status st = deepseek_v4_validate(h, "preset " + std::string(preset)); !st.ok()) return st;
  return std::unique_ptr<Architecture>(new DeepseekV4Arch(h));
}

}  // namespace dseek
