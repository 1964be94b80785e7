// DeepSeek V2 / V2-Lite / V3 / R1 / V3.1: MLA attention + DeepSeekMoE.
// Hyper-parameters from GGUF (`deepseek2.*`, llama.cpp's keys) or HF config.json,
// the tensor table (llama.cpp's `deepseek2` names, with attn_kv_b stored split as
// attn_k_b / attn_v_b), presets for `dseek init`, and parameter accounting.
// Behaviour is keyed on config fields: q_lora_rank == 0 means no query compression.
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/arch.h"
#include "model/arch_util.h"
#include "model/deepseek.h"

namespace dseek {
namespace {

Status validate(const DeepseekHParams& h, const std::string& where) {
  auto bad = [&](const std::string& what) { return Status::error(where + ": " + what); };
  if (h.n_vocab <= 0 || h.n_embd <= 0 || h.n_layer <= 0 || h.n_head <= 0) return bad("vocab, embedding, layer and head counts must be positive");
  if (h.kv_lora_rank <= 0 || h.d_nope <= 0 || h.d_rope <= 0 || h.d_v <= 0) return bad("MLA dimensions (kv_lora_rank, qk_nope, qk_rope, v_head) must be positive");
  if (h.d_rope % 2) return bad("qk_rope_head_dim must be even (RoPE rotates pairs)");
  if (h.q_lora_rank < 0) return bad("q_lora_rank must be >= 0");
  if (h.n_dense_lead < 0 || h.n_dense_lead > h.n_layer) return bad("leading dense layer count out of range");
  if (h.n_dense_lead > 0 && h.n_ff <= 0) return bad("dense layers need feed_forward_length > 0");
  if (h.n_dense_lead < h.n_layer || h.n_mtp > 0) {
    if (h.n_expert <= 0 || h.n_ff_exp <= 0) return bad("MoE layers need expert_count and expert_feed_forward_length > 0");
    if (h.n_expert_used <= 0 || h.n_expert_used > h.n_expert) return bad("expert_used_count must be in 1..expert_count");
    if (h.n_group <= 0 || h.n_expert % h.n_group) return bad("expert_count must be a multiple of expert_group_count");
    if (h.n_group_used <= 0 || h.n_group_used > h.n_group) return bad("expert_group_used_count must be in 1..expert_group_count");
  }
  if (h.n_mtp < 0 || h.n_mtp > 8) return bad("nextn_predict_layers must be in 0..8");
  if (h.n_embd > (1 << 20) || h.n_layer > 4096 || h.n_head > 4096 || h.n_vocab > (1 << 24) || h.n_expert > 65536)
    return bad("hyper-parameters are absurdly large");
  return ok_status();
}

class DeepseekArch final : public Architecture {
 public:
  explicit DeepseekArch(DeepseekHParams h) : h_(std::move(h)) {}

  std::string_view name() const override { return h_.variant; }
  std::string_view gguf_arch() const override { return "deepseek2"; }
  int64_t vocab_size() const override { return h_.n_vocab; }
  int64_t context_length() const override { return h_.n_ctx; }

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
    if (h_.yarn_factor > 0)
      d.push_back({"rope_scaling", "yarn factor " + s(h_.yarn_factor) + ", original ctx " + s(h_.yarn_orig_ctx) +
                                       ", mscale_all_dim " + s(h_.mscale_all_dim)});
    return d;
  }

  std::vector<TensorSpec> tensor_specs() const override {
    std::vector<TensorSpec> t;
    const int64_t E = h_.n_embd, V = h_.n_vocab, H = h_.n_head, Dq = h_.d_nope + h_.d_rope;
    t.push_back(spec("token_embd.weight", "model.embed_tokens.weight", {E, V}, TensorInit::kEmbedding, E));
    for (int64_t i = 0; i < h_.n_layer + h_.n_mtp; ++i) {
      const std::string b = "blk." + std::to_string(i) + ".", hf = "model.layers." + std::to_string(i) + ".";
      if (i >= h_.n_layer) add_mtp_head(t, b, hf);
      t.push_back(norm(b + "attn_norm.weight", hf + "input_layernorm.weight", E));
      if (h_.q_lora_rank > 0) {
        t.push_back(spec(b + "attn_q_a.weight", hf + "self_attn.q_a_proj.weight", {E, h_.q_lora_rank}, TensorInit::kMatrix, E));
        t.push_back(norm(b + "attn_q_a_norm.weight", hf + "self_attn.q_a_layernorm.weight", h_.q_lora_rank));
        t.push_back(spec(b + "attn_q_b.weight", hf + "self_attn.q_b_proj.weight", {h_.q_lora_rank, H * Dq}, TensorInit::kMatrix, h_.q_lora_rank));
      } else {
        t.push_back(spec(b + "attn_q.weight", hf + "self_attn.q_proj.weight", {E, H * Dq}, TensorInit::kMatrix, E));
      }
      t.push_back(spec(b + "attn_kv_a_mqa.weight", hf + "self_attn.kv_a_proj_with_mqa.weight",
                       {E, h_.kv_lora_rank + h_.d_rope}, TensorInit::kMatrix, E));
      t.push_back(norm(b + "attn_kv_a_norm.weight", hf + "self_attn.kv_a_layernorm.weight", h_.kv_lora_rank));
      // HF kv_b_proj [H*(Dn+Dv), Ckv] split per head: k_b stored transposed [H][Ckv][Dn], v_b [H][Dv][Ckv].
      t.push_back(spec(b + "attn_k_b.weight", "", {h_.d_nope, h_.kv_lora_rank, H}, TensorInit::kMatrix, h_.kv_lora_rank));
      t.push_back(spec(b + "attn_v_b.weight", "", {h_.kv_lora_rank, h_.d_v, H}, TensorInit::kMatrix, h_.kv_lora_rank));
      t.push_back(spec(b + "attn_output.weight", hf + "self_attn.o_proj.weight", {H * h_.d_v, E}, TensorInit::kMatrix, H * h_.d_v));
      t.push_back(norm(b + "ffn_norm.weight", hf + "post_attention_layernorm.weight", E));
      if (i < h_.n_dense_lead) {
        add_mlp(t, b + "ffn_", hf + "mlp.", "", h_.n_ff);
      } else {
        TensorSpec router = spec(b + "ffn_gate_inp.weight", hf + "mlp.gate.weight", {E, h_.n_expert}, TensorInit::kRouter, E);
        router.quantizable = false;
        t.push_back(router);
        if (h_.expert_bias) {
          TensorSpec bias = spec(b + "exp_probs_b.bias", hf + "mlp.gate.e_score_correction_bias", {h_.n_expert}, TensorInit::kBias, 1);
          bias.quantizable = false;
          t.push_back(bias);
        }
        const int64_t Fe = h_.n_ff_exp, X = h_.n_expert;
        t.push_back(spec(b + "ffn_gate_exps.weight", "", {E, Fe, X}, TensorInit::kMatrix, E));
        t.push_back(spec(b + "ffn_down_exps.weight", "", {Fe, E, X}, TensorInit::kMatrix, Fe));
        t.push_back(spec(b + "ffn_up_exps.weight", "", {E, Fe, X}, TensorInit::kMatrix, E));
        if (h_.n_expert_shared > 0) add_mlp(t, b + "ffn_", hf + "mlp.shared_experts.", "_shexp", Fe * h_.n_expert_shared);
      }
    }
    t.push_back(norm("output_norm.weight", "model.norm.weight", E));
    TensorSpec head = spec("output.weight", "lm_head.weight", {E, V}, TensorInit::kOutputHead, E);
    t.push_back(head);
    return t;
  }

  void write_gguf_metadata(GgufWriter& w) const override {
    const std::string a = "deepseek2.";
    w.set("general.architecture", GgufValue::str("deepseek2"));
    w.set(a + "context_length", GgufValue::u32(static_cast<uint32_t>(h_.n_ctx)));
    w.set(a + "embedding_length", GgufValue::u32(static_cast<uint32_t>(h_.n_embd)));
    // llama.cpp counts nextn (MTP) layers in block_count and marks them with nextn_predict_layers.
    w.set(a + "block_count", GgufValue::u32(static_cast<uint32_t>(h_.n_layer + h_.n_mtp)));
    w.set(a + "nextn_predict_layers", GgufValue::u32(static_cast<uint32_t>(h_.n_mtp)));
    w.set(a + "feed_forward_length", GgufValue::u32(static_cast<uint32_t>(h_.n_ff)));
    w.set(a + "attention.head_count", GgufValue::u32(static_cast<uint32_t>(h_.n_head)));
    // MLA as MQA over the latent (llama.cpp's convention for split k_b/v_b files).
    w.set(a + "attention.head_count_kv", GgufValue::u32(1));
    w.set(a + "attention.key_length", GgufValue::u32(static_cast<uint32_t>(h_.kv_lora_rank + h_.d_rope)));
    w.set(a + "attention.value_length", GgufValue::u32(static_cast<uint32_t>(h_.kv_lora_rank)));
    w.set(a + "attention.key_length_mla", GgufValue::u32(static_cast<uint32_t>(h_.d_nope + h_.d_rope)));
    w.set(a + "attention.value_length_mla", GgufValue::u32(static_cast<uint32_t>(h_.d_v)));
    w.set(a + "rope.freq_base", GgufValue::f32(static_cast<float>(h_.rope_theta)));
    w.set(a + "rope.dimension_count", GgufValue::u32(static_cast<uint32_t>(h_.d_rope)));
    w.set(a + "attention.layer_norm_rms_epsilon", GgufValue::f32(static_cast<float>(h_.rms_eps)));
    w.set(a + "vocab_size", GgufValue::u32(static_cast<uint32_t>(h_.n_vocab)));
    if (h_.q_lora_rank > 0) w.set(a + "attention.q_lora_rank", GgufValue::u32(static_cast<uint32_t>(h_.q_lora_rank)));
    w.set(a + "attention.kv_lora_rank", GgufValue::u32(static_cast<uint32_t>(h_.kv_lora_rank)));
    w.set(a + "leading_dense_block_count", GgufValue::u32(static_cast<uint32_t>(h_.n_dense_lead)));
    w.set(a + "expert_count", GgufValue::u32(static_cast<uint32_t>(h_.n_expert)));
    w.set(a + "expert_shared_count", GgufValue::u32(static_cast<uint32_t>(h_.n_expert_shared)));
    w.set(a + "expert_used_count", GgufValue::u32(static_cast<uint32_t>(h_.n_expert_used)));
    w.set(a + "expert_feed_forward_length", GgufValue::u32(static_cast<uint32_t>(h_.n_ff_exp)));
    w.set(a + "expert_group_count", GgufValue::u32(static_cast<uint32_t>(h_.n_group)));
    w.set(a + "expert_group_used_count", GgufValue::u32(static_cast<uint32_t>(h_.n_group_used)));
    w.set(a + "expert_weights_scale", GgufValue::f32(static_cast<float>(h_.route_scale)));
    w.set(a + "expert_weights_norm", GgufValue::boolean(h_.norm_topk));
    w.set(a + "expert_gating_func", GgufValue::u32(static_cast<uint32_t>(h_.gating)));
    if (h_.yarn_factor > 0) {
      w.set(a + "rope.scaling.type", GgufValue::str("yarn"));
      w.set(a + "rope.scaling.factor", GgufValue::f32(static_cast<float>(h_.yarn_factor)));
      w.set(a + "rope.scaling.original_context_length", GgufValue::u32(static_cast<uint32_t>(h_.yarn_orig_ctx)));
      w.set(a + "rope.scaling.yarn_log_multiplier", GgufValue::f32(static_cast<float>(0.1 * h_.mscale_all_dim)));
    }
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
  void add_mlp(std::vector<TensorSpec>& t, const std::string& b, const std::string& hf, const std::string& suffix,
               int64_t F) const {
    const int64_t E = h_.n_embd;
    t.push_back(spec(b + "gate" + suffix + ".weight", hf + "gate_proj.weight", {E, F}, TensorInit::kMatrix, E));
    t.push_back(spec(b + "down" + suffix + ".weight", hf + "down_proj.weight", {F, E}, TensorInit::kMatrix, F));
    t.push_back(spec(b + "up" + suffix + ".weight", hf + "up_proj.weight", {E, F}, TensorInit::kMatrix, E));
  }

  // MTP module extras (DeepSeek-V3 §2.2): x = eh_proj([enorm(emb) ; hnorm(h)]), then a decoder layer.
  void add_mtp_head(std::vector<TensorSpec>& t, const std::string& b, const std::string& hf) const {
    const int64_t E = h_.n_embd;
    t.push_back(norm(b + "nextn.enorm.weight", hf + "enorm.weight", E));
    t.push_back(norm(b + "nextn.hnorm.weight", hf + "hnorm.weight", E));
    t.push_back(spec(b + "nextn.eh_proj.weight", hf + "eh_proj.weight", {2 * E, E}, TensorInit::kMatrix, 2 * E));
    t.push_back(norm(b + "nextn.shared_head_norm.weight", hf + "shared_head.norm.weight", E));
  }

  DeepseekHParams h_;
};

DeepseekHParams preset_hparams(std::string_view arch, std::string_view preset) {
  DeepseekHParams h;
  h.variant = std::string(arch);
  const bool v3 = arch == "deepseek-v3";
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
  return h;
}

}  // namespace

Result<std::unique_ptr<Architecture>> deepseek_preset(std::string_view arch, std::string_view preset, int64_t n_vocab,
                                                       int64_t n_mtp) {
  if (preset != "tiny" && preset != "small" && preset != "v2-lite")
    return Status::error("unknown preset '" + std::string(preset) + "' (tiny, small, v2-lite)");
  if (preset == "v2-lite" && arch != "deepseek-v2")
    return Status::error("preset v2-lite is DeepSeek-V2-Lite: use --arch deepseek-v2");
  DeepseekHParams h = preset_hparams(arch, preset);
  h.n_vocab = n_vocab;
  if (n_mtp >= 0) h.n_mtp = n_mtp;
  Status st = validate(h, "preset " + std::string(preset));
  if (!st.ok()) return st;
  return std::unique_ptr<Architecture>(new DeepseekArch(h));
}

Result<std::unique_ptr<Architecture>> deepseek_from_gguf(const GgufFile& f) {
  auto h = deepseek_hparams_from_gguf(f);
  if (!h.ok()) return h.status();
  return std::unique_ptr<Architecture>(new DeepseekArch(*h));
}

Result<DeepseekHParams> deepseek_hparams_from_gguf(const GgufFile& f) {
  GgufKeys k(f, "deepseek2.");
  DeepseekHParams h;
  const int64_t blocks = k.integer("block_count");
  h.n_mtp = k.integer("nextn_predict_layers", 0);
  h.n_layer = blocks - h.n_mtp;
  h.n_embd = k.integer("embedding_length");
  h.n_ctx = k.integer("context_length", 4096);
  h.n_head = k.integer("attention.head_count");
  h.q_lora_rank = k.integer("attention.q_lora_rank", 0);
  h.kv_lora_rank = k.integer("attention.kv_lora_rank");
  h.d_rope = k.integer("rope.dimension_count");
  if (f.find("deepseek2.attention.key_length_mla")) {
    h.d_nope = k.integer("attention.key_length_mla") - h.d_rope;
    h.d_v = k.integer("attention.value_length_mla");
  } else {
    h.d_nope = k.integer("attention.key_length") - h.d_rope;
    h.d_v = k.integer("attention.value_length");
  }
  h.n_ff = k.integer("feed_forward_length", 0);
  h.n_dense_lead = k.integer("leading_dense_block_count", 0);
  h.n_expert = k.integer("expert_count", 0);
  h.n_expert_shared = k.integer("expert_shared_count", 0);
  h.n_expert_used = k.integer("expert_used_count", 0);
  h.n_ff_exp = k.integer("expert_feed_forward_length", 0);
  h.n_group = k.integer("expert_group_count", 1);
  h.n_group_used = k.integer("expert_group_used_count", 1);
  h.route_scale = k.real("expert_weights_scale", 1.0);
  h.norm_topk = k.boolean("expert_weights_norm", false);
  h.gating = k.integer("expert_gating_func", 1) == 2 ? Gating::kSigmoid : Gating::kSoftmax;
  h.rope_theta = k.real("rope.freq_base", 10000.0);
  h.rms_eps = k.real("attention.layer_norm_rms_epsilon", 1e-6);
  h.n_vocab = k.integer("vocab_size", 0);
  if (h.n_vocab == 0) {
    if (const auto* tok = f.find_tensor("token_embd.weight"); tok && tok->ne.size() == 2) h.n_vocab = tok->ne[1];
  }
  h.expert_bias = false;
  for (const auto& t : f.tensors())
    if (t.name.find("exp_probs_b") != std::string::npos) h.expert_bias = true;
  if (k.string("rope.scaling.type") == "yarn") {
    h.yarn_factor = k.real("rope.scaling.factor", 1.0);
    h.yarn_orig_ctx = k.real("rope.scaling.original_context_length", 4096.0);
    h.mscale_all_dim = k.real("rope.scaling.yarn_log_multiplier", 0.0) / 0.1;
  }
  h.variant = h.gating == Gating::kSigmoid ? "deepseek-v3" : "deepseek-v2";
  if (!k.ok()) return k.status();
  Status st = validate(h, f.path());
  if (!st.ok()) return st;
  return h;
}

Result<std::unique_ptr<Architecture>> deepseek_from_hf_config(const nlohmann::json& c) {
  auto h = deepseek_hparams_from_hf_config(c);
  if (!h.ok()) return h.status();
  return deepseek_from_hparams(*h);
}

Result<std::unique_ptr<Architecture>> deepseek_from_hparams(const DeepseekHParams& h) {
  Status st = validate(h, "hyper-parameters");
  if (!st.ok()) return st;
  return std::unique_ptr<Architecture>(new DeepseekArch(h));
}

Result<DeepseekHParams> deepseek_hparams_from_hf_config(const nlohmann::json& c) {
  JsonKeys k(c, "config.json");
  DeepseekHParams h;
  h.variant = k.string("model_type", "deepseek_v3") == "deepseek_v2" ? "deepseek-v2" : "deepseek-v3";
  h.n_vocab = k.integer("vocab_size");
  h.n_embd = k.integer("hidden_size");
  h.n_layer = k.integer("num_hidden_layers");
  h.n_head = k.integer("num_attention_heads");
  h.n_ctx = k.integer("max_position_embeddings", 4096);
  h.q_lora_rank = k.integer("q_lora_rank", 0);  // null -> 0: no query compression
  h.kv_lora_rank = k.integer("kv_lora_rank");
  h.d_nope = k.integer("qk_nope_head_dim");
  h.d_rope = k.integer("qk_rope_head_dim");
  h.d_v = k.integer("v_head_dim");
  h.n_ff = k.integer("intermediate_size");
  h.n_ff_exp = k.integer("moe_intermediate_size", 0);
  h.n_expert = k.integer("n_routed_experts", 0);
  h.n_expert_shared = k.integer("n_shared_experts", 0);
  h.n_expert_used = k.integer("num_experts_per_tok", 0);
  h.n_group = k.integer("n_group", 1);
  h.n_group_used = k.integer("topk_group", 1);
  h.n_dense_lead = k.integer("first_k_dense_replace", 0);
  h.n_mtp = k.integer("num_nextn_predict_layers", 0);
  h.gating = k.string("scoring_func", "softmax") == "sigmoid" ? Gating::kSigmoid : Gating::kSoftmax;
  h.norm_topk = k.boolean("norm_topk_prob", false);
  h.expert_bias = k.string("topk_method", "") == "noaux_tc";
  h.route_scale = k.real("routed_scaling_factor", 1.0);
  h.rope_theta = k.real("rope_theta", 10000.0);
  h.rms_eps = k.real("rms_norm_eps", 1e-6);
  if (c.contains("rope_scaling") && c["rope_scaling"].is_object()) {
    JsonKeys r(c["rope_scaling"], "config.json rope_scaling");
    const std::string type = r.string("type", r.string("rope_type", ""));
    if (type == "yarn") {
      h.yarn_factor = r.real("factor", 1.0);
      h.yarn_orig_ctx = r.real("original_max_position_embeddings", 4096.0);
      h.yarn_beta_fast = r.real("beta_fast", 32.0);
      h.yarn_beta_slow = r.real("beta_slow", 1.0);
      h.mscale_all_dim = r.real("mscale_all_dim", 0.0);
    }
    if (!r.ok()) return r.status();
  }
  if (!k.ok()) return k.status();
  Status st = validate(h, "config.json");
  if (!st.ok()) return st;
  return h;
}

}  // namespace dseek
