// DeepSeek's hyper-parameters: the table (GGUF `deepseek2.*` keys, HF
// config.json), the checks a single field's range cannot make, and the presets
// of `dseek init`. Part of the DeepSeek architecture (arch/deepseek.cpp), kept
// apart for size.
#include "model/arch/deepseek_hparams.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "model/arch_util.h"

namespace dseek {
namespace {

using H = DeepseekHParams;


// MLA written as MQA over the latent (llama.cpp's convention for split k_b/v_b
// files), with the per-head sizes in the *_mla keys; older files have only the former.
void write_mla_as_mqa(const H& h, const std::string& a, GgufWriter& w) {
  w.set(a + "attention.head_count_kv", GgufValue::u32(1));
  w.set(a + "attention.key_length", GgufValue::u32(static_cast<uint32_t>(h.kv_lora_rank + h.d_rope)));
  w.set(a + "attention.value_length", GgufValue::u32(static_cast<uint32_t>(h.kv_lora_rank)));
}
void write_key_length_mla(const H& h, const std::string& a, GgufWriter& w) {
  w.set(a + "attention.key_length_mla", GgufValue::u32(static_cast<uint32_t>(h.d_nope + h.d_rope)));
}
void read_head_dims(const GgufFile&, GgufKeys& k, H& h) {
  const bool mla = k.integer("attention.key_length_mla", -1) >= 0;  // under deepseek2. or deepseek32.
  h.d_nope = k.integer(mla ? "attention.key_length_mla" : "attention.key_length") - h.d_rope;
  h.d_v = k.integer(mla ? "attention.value_length_mla" : "attention.value_length");
}

// A vocabulary size left out of the metadata is the embedding's row count.
void read_vocab_size(const GgufFile& f, GgufKeys& k, H& h) {
  h.n_vocab = k.integer("vocab_size", 0);
  if (const auto* tok = f.find_tensor(deepseek_tensors().gguf_name(DsTensor::kTokenEmbd)); h.n_vocab == 0 && tok && tok->ne.size() == 2)
    h.n_vocab = tok->ne[1];
}

void write_gating(const H& h, const std::string& a, GgufWriter& w) {
  w.set(a + "expert_gating_func", GgufValue::u32(static_cast<uint32_t>(h.gating)));
}
void read_gating_gguf(const GgufFile& f, GgufKeys& k, H& h) {
  h.gating = k.integer("expert_gating_func", 1) == 2 ? Gating::kSigmoid : Gating::kSoftmax;
  h.variant = h.gating == Gating::kSigmoid ? "deepseek-v3" : "deepseek-v2";
  h.expert_bias = false;  // noaux_tc: GGUF says so only by having the bias tensors
  for (const auto& t : f.tensors())
    if (t.name.find(deepseek_tensors().slot(DsTensor::kExpBias).gguf) != std::string::npos) h.expert_bias = true;
  if (h.index_n_heads > 0) h.variant = "deepseek-v32";  // the indexer keys (read as plain rows, before this hook)
}
void read_gating_hf(const nlohmann::json&, JsonKeys& k, H& h) {
  const std::string type = k.string("model_type", "deepseek_v3");
  h.variant = type == "deepseek_v2" ? "deepseek-v2" : type == "deepseek_v32" ? "deepseek-v32" : "deepseek-v3";
  h.gating = k.string("scoring_func", "softmax") == "sigmoid" ? Gating::kSigmoid : Gating::kSoftmax;
  h.expert_bias = k.string("topk_method", "") == "noaux_tc";
}

// YaRN context extension: GGUF rope.scaling.*, HF's rope_scaling object.
void write_yarn(const H& h, const std::string& a, GgufWriter& w) {
  if (h.yarn_factor <= 0) return;
  w.set(a + "rope.scaling.type", GgufValue::str("yarn"));
  w.set(a + "rope.scaling.factor", GgufValue::f32(static_cast<float>(h.yarn_factor)));
  w.set(a + "rope.scaling.original_context_length", GgufValue::u32(static_cast<uint32_t>(h.yarn_orig_ctx)));
  w.set(a + "rope.scaling.yarn_log_multiplier", GgufValue::f32(static_cast<float>(0.1 * h.mscale_all_dim)));
}
void read_yarn_gguf(const GgufFile&, GgufKeys& k, H& h) {
  if (k.string("rope.scaling.type") != "yarn") return;
  h.yarn_factor = k.real("rope.scaling.factor", 1.0);
  h.yarn_orig_ctx = k.real("rope.scaling.original_context_length", 4096.0);
  h.mscale_all_dim = k.real("rope.scaling.yarn_log_multiplier", 0.0) / 0.1;
}
void read_yarn_hf(const nlohmann::json& c, JsonKeys& k, H& h) {
  if (!c.contains("rope_scaling") || !c["rope_scaling"].is_object()) return;
  JsonKeys r(c["rope_scaling"], "config.json rope_scaling");
  if (r.string("type", r.string("rope_type", "")) == "yarn") {
    h.yarn_factor = r.real("factor", 1.0);
    h.yarn_orig_ctx = r.real("original_max_position_embeddings", 4096.0);
    h.yarn_beta_fast = r.real("beta_fast", 32.0);
    h.yarn_beta_slow = r.real("beta_slow", 1.0);
    h.mscale_all_dim = r.real("mscale_all_dim", 0.0);
  }
  if (!r.ok()) k.fail_with(r.status());
}

using P = HParam<H>;
using namespace hparam_limit;
// In GGUF writer order (general.architecture first, written by the arch).
constexpr P kDeepseekParams[] = {
    {.name = "n_ctx", .gguf = "context_length", .hf = "max_position_embeddings", .i = &H::n_ctx, .def = 4096, .lo = 1,
     .hi = kContext},
    {.name = "n_embd", .gguf = "embedding_length", .hf = "hidden_size", .i = &H::n_embd, .gguf_required = true,
     .hf_required = true, .lo = 1, .hi = kWidth},
    {.name = "n_layer", .gguf = "block_count", .hf = "num_hidden_layers", .i = &H::n_layer, .hf_required = true, .lo = 1,
     .hi = kLayers, .read_gguf = read_block_count_with_mtp<H>, .write = write_block_count_with_mtp<H>},
    {.name = "n_mtp", .gguf = "nextn_predict_layers", .hf = "num_nextn_predict_layers", .i = &H::n_mtp, .lo = 0, .hi = 8},
    {.name = "n_ff", .gguf = "feed_forward_length", .hf = "intermediate_size", .i = &H::n_ff, .hf_required = true, .lo = 0,
     .hi = kWidth},
    {.name = "n_head", .gguf = "attention.head_count", .hf = "num_attention_heads", .i = &H::n_head,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kHeads},
    {.name = "mla as mqa", .gguf = "", .hf = "", .write = write_mla_as_mqa},
    {.name = "d_nope", .gguf = "attention.key_length_mla", .hf = "qk_nope_head_dim", .i = &H::d_nope,
     .hf_required = true, .lo = 1, .hi = kHeadDim, .read_gguf = read_head_dims, .write = write_key_length_mla},
    {.name = "d_v", .gguf = "attention.value_length_mla", .hf = "v_head_dim", .i = &H::d_v, .hf_required = true, .lo = 1,
     .hi = kHeadDim, .read_gguf = [](const GgufFile&, GgufKeys&, H&) {}},  // read with d_nope
    {.name = "rope_theta", .gguf = "rope.freq_base", .hf = "rope_theta", .r = &H::rope_theta, .def = 10000.0,
     .lo = 1, .hi = kRopeTheta, .type = ParamType::kF32},
    {.name = "d_rope", .gguf = "rope.dimension_count", .hf = "qk_rope_head_dim", .i = &H::d_rope, .gguf_required = true,
     .hf_required = true, .lo = 1, .hi = kHeadDim},
    {.name = "rms_eps", .gguf = "attention.layer_norm_rms_epsilon", .hf = "rms_norm_eps", .r = &H::rms_eps, .def = 1e-6,
     .lo = 0, .hi = 1, .type = ParamType::kF32},
    {.name = "n_vocab", .gguf = "vocab_size", .hf = "vocab_size", .i = &H::n_vocab, .hf_required = true, .lo = 1,
     .hi = 1 << 24, .read_gguf = read_vocab_size},
    {.name = "q_lora_rank", .gguf = "attention.q_lora_rank", .hf = "q_lora_rank", .i = &H::q_lora_rank, .lo = 0,
     .hi = kWidth, .write_if_positive = true},  // 0 (config.json: null) = no query compression
    {.name = "kv_lora_rank", .gguf = "attention.kv_lora_rank", .hf = "kv_lora_rank", .i = &H::kv_lora_rank,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kWidth},
    {.name = "n_dense_lead", .gguf = "leading_dense_block_count", .hf = "first_k_dense_replace", .i = &H::n_dense_lead,
     .lo = 0, .hi = kLayers},
    {.name = "n_expert", .gguf = "expert_count", .hf = "n_routed_experts", .i = &H::n_expert, .lo = 0, .hi = kExperts},
    {.name = "n_expert_shared", .gguf = "expert_shared_count", .hf = "n_shared_experts", .i = &H::n_expert_shared, .lo = 0,
     .hi = kExperts},
    {.name = "n_expert_used", .gguf = "expert_used_count", .hf = "num_experts_per_tok", .i = &H::n_expert_used, .lo = 0,
     .hi = kExperts},
    {.name = "n_ff_exp", .gguf = "expert_feed_forward_length", .hf = "moe_intermediate_size", .i = &H::n_ff_exp, .lo = 0,
     .hi = kWidth},
    {.name = "n_group", .gguf = "expert_group_count", .hf = "n_group", .i = &H::n_group, .def = 1, .lo = 0,
     .hi = kExperts},
    {.name = "n_group_used", .gguf = "expert_group_used_count", .hf = "topk_group", .i = &H::n_group_used, .def = 1,
     .lo = 0, .hi = kExperts},
    {.name = "route_scale", .gguf = "expert_weights_scale", .hf = "routed_scaling_factor", .r = &H::route_scale,
     .def = 1.0, .lo = 0, .hi = kScale, .type = ParamType::kF32},
    {.name = "norm_topk", .gguf = "expert_weights_norm", .hf = "norm_topk_prob", .b = &H::norm_topk,
     .type = ParamType::kBool},
    {.name = "gating", .gguf = "expert_gating_func", .hf = "", .read_gguf = read_gating_gguf, .read_hf = read_gating_hf,
     .write = write_gating},
    {.name = "yarn", .gguf = "", .hf = "", .read_gguf = read_yarn_gguf, .read_hf = read_yarn_hf, .write = write_yarn},
    // DeepSeek-V3.2's lightning indexer (0: none). GGUF keys as llama.cpp's DSA models name them.
    {.name = "index_n_heads", .gguf = "attention.indexer.head_count", .hf = "index_n_heads", .i = &H::index_n_heads,
     .lo = 0, .hi = kHeads, .write_if_positive = true},
    {.name = "index_head_dim", .gguf = "attention.indexer.key_length", .hf = "index_head_dim", .i = &H::index_head_dim,
     .lo = 0, .hi = kHeadDim, .write_if_positive = true},
    {.name = "index_topk", .gguf = "attention.indexer.top_k", .hf = "index_topk", .i = &H::index_topk, .lo = 0,
     .hi = kContext, .write_if_positive = true},
};

// The indexer as the released kernels define it: one 128-value FP8 block per head and key.
Status validate_indexer(const DeepseekHParams& h, const std::string& where) {
  auto bad = [&](const std::string& what) { return Status::error(where + ": " + what); };
  if (h.index_n_heads == 0) {
    if (h.variant == "deepseek-v32") return bad("deepseek_v32 needs index_n_heads, index_head_dim and index_topk (its sparse attention)");
    return ok_status();
  }
  if (h.q_lora_rank <= 0) return bad("the sparse-attention indexer needs query compression (q_lora_rank > 0)");
  if (h.index_head_dim != 128) return bad("index_head_dim must be 128 (one FP8 block per indexer head, as released)");
  if (h.index_topk < 1) return bad("index_topk must be at least 1");
  if (h.d_rope > h.index_head_dim) return bad("qk_rope_head_dim must not exceed index_head_dim");
  return ok_status();
}

}  // namespace

// What one field's range cannot say.
Status deepseek_validate(const DeepseekHParams& h, const std::string& where) {
  if (Status st = check_hparam_ranges<H>(kDeepseekParams, h, where); !st.ok()) return st;
  auto bad = [&](const std::string& what) { return Status::error(where + ": " + what); };
  if (h.d_rope % 2) return bad("qk_rope_head_dim must be even (RoPE rotates pairs)");
  if (h.yarn_factor > 0 && !(h.yarn_factor <= kScale && h.yarn_orig_ctx >= 1 && h.yarn_orig_ctx <= kContext &&
                             std::isfinite(h.mscale_all_dim) && std::abs(h.mscale_all_dim) <= kScale))
    return bad("YaRN rope scaling: factor, original context length or log multiplier out of range");
  if (h.n_dense_lead > h.n_layer) return bad("leading dense layer count out of range");
  if (h.n_dense_lead > 0 && h.n_ff <= 0) return bad("dense layers need feed_forward_length > 0");
  if (h.n_dense_lead < h.n_layer || h.n_mtp > 0) {
    if (h.n_expert <= 0 || h.n_ff_exp <= 0) return bad("MoE layers need expert_count and expert_feed_forward_length > 0");
    if (h.n_expert_used <= 0 || h.n_expert_used > h.n_expert) return bad("expert_used_count must be in 1..expert_count");
    if (h.n_group <= 0 || h.n_expert % h.n_group) return bad("expert_count must be a multiple of expert_group_count");
    if (h.n_group_used <= 0 || h.n_group_used > h.n_group) return bad("expert_group_used_count must be in 1..expert_group_count");
  }
  return validate_indexer(h, where);
}

std::span<const HParam<DeepseekHParams>> deepseek_hparam_table() { return kDeepseekParams; }

namespace {

// DeepSeek-V3.2's real shapes (DeepSeek-V3.2-Exp inference/config_671B_v3.2.json
// and the HF config's YaRN block), for benchmarks at depth.
DeepseekHParams v32_real(DeepseekHParams h) {
  h.n_embd = 7168; h.n_layer = 61; h.n_head = 128; h.q_lora_rank = 1536; h.kv_lora_rank = 512;
  h.d_nope = 128; h.d_rope = 64; h.d_v = 128; h.n_dense_lead = 3; h.n_ff = 18432; h.n_ff_exp = 2048;
  h.n_expert = 256; h.n_expert_shared = 1; h.n_expert_used = 8; h.n_group = 8; h.n_group_used = 4;
  h.gating = Gating::kSigmoid; h.norm_topk = true; h.expert_bias = true; h.route_scale = 2.5; h.n_mtp = 1;
  h.n_ctx = 163840; h.yarn_factor = 40; h.yarn_orig_ctx = 4096; h.mscale_all_dim = 1.0;
  h.index_n_heads = 64; h.index_head_dim = 128; h.index_topk = 2048;
  return h;
}

}  // namespace

DeepseekHParams deepseek_preset_hparams(std::string_view arch, std::string_view preset) {
  DeepseekHParams h;
  h.variant = std::string(arch);
  if (preset == "v32") return v32_real(h);
  const bool v32 = arch == "deepseek-v32", v3 = arch == "deepseek-v3" || v32;
  if (preset == "v2-lite") {  // DeepSeek-V2-Lite's real shapes (inference/configs/config_16B.json)
    h.n_embd = 2048; h.n_layer = 27; h.n_head = 16; h.q_lora_rank = 0; h.kv_lora_rank = 512;
    h.d_nope = 128; h.d_rope = 64; h.d_v = 128; h.n_dense_lead = 1; h.n_ff = 10944; h.n_ff_exp = 1408;
    h.n_expert = 64; h.n_expert_shared = 2; h.n_expert_used = 6; h.n_group = 1; h.n_group_used = 1;
    h.gating = Gating::kSoftmax; h.norm_topk = false; h.route_scale = 1.0; h.n_ctx = 163840;
    h.yarn_factor = 40; h.yarn_orig_ctx = 4096; h.mscale_all_dim = 0.707;
    return h;
  }
  const bool small = preset == "small";
  h.n_embd = small ? 256 : 64; h.n_layer = small ? 4 : 2; h.n_head = small ? 8 : 4;
  h.q_lora_rank = v3 ? (small ? 96 : 32) : 0;  // V2-Lite style: no query compression
  h.kv_lora_rank = small ? 64 : 32; h.d_nope = small ? 32 : 16; h.d_rope = small ? 16 : 8; h.d_v = h.d_nope;
  h.n_dense_lead = 1; h.n_ff = small ? 768 : 192; h.n_ff_exp = small ? 128 : 32;
  h.n_expert = small ? 16 : 8; h.n_expert_shared = v3 ? 1 : 2; h.n_expert_used = small ? 4 : 2;
  h.n_group = v3 ? 4 : 1; h.n_group_used = v3 ? 2 : 1;
  h.gating = v3 ? Gating::kSigmoid : Gating::kSoftmax; h.norm_topk = v3; h.expert_bias = v3;
  h.route_scale = v3 ? 2.5 : 1.0; h.n_mtp = v3 ? 1 : 0; h.n_ctx = 4096;
  h.yarn_factor = 4; h.yarn_orig_ctx = 1024; h.mscale_all_dim = v3 ? 1.0 : 0.707;
  if (v32) {  // V3 plus the indexer; index_topk small enough that a few dozen tokens are sparse
    h.index_n_heads = small ? 8 : 4; h.index_head_dim = 128; h.index_topk = small ? 32 : 8;
  }
  return h;
}

}  // namespace dseek
