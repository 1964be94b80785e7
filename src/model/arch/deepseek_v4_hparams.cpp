// DeepSeek-V4's hyper-parameters: the table, the hooks for what is not a
// plain key (the per-layer compression schedule, YaRN, transformers' layer
// type lists), the cross-field checks and the presets. Part of
// arch/deepseek_v4.cpp, kept apart for size.
#include "model/arch/deepseek_v4_hparams.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/arch_util.h"

namespace dseek {
namespace {

using H = DeepseekV4HParams;


// The schedule: GGUF `attention.compress_ratios` (an array, MTP entries included).
void write_ratios(const H& h, const std::string& a, GgufWriter& w) {
  GgufArray items;
  for (int64_t r : h.compress_ratios) items.push_back(GgufValue::u32(static_cast<uint32_t>(r)));
  for (int64_t i = 0; i < h.n_mtp; ++i) items.push_back(GgufValue::u32(0));  // MTP blocks are sliding-only
  w.set(a + "attention.compress_ratios", GgufValue::array(GgufType::kUint32, std::move(items)));
}
// The schedule is read before the table's range checks run, so a file's absurd
// layer count must not size an allocation: out of range, the schedule stays
// empty and validation reports the layer count.
size_t schedule_size(const H& h) { return h.n_layer >= 1 && h.n_layer <= hparam_limit::kLayers ? static_cast<size_t>(h.n_layer) : 0; }

void read_ratios_gguf(const GgufFile& f, GgufKeys& k, H& h) {
  h.compress_ratios.assign(schedule_size(h), 0);
  const GgufValue* v = f.find("deepseek4.attention.compress_ratios");
  const GgufArray* a = v ? v->to_array() : nullptr;
  if (!a) return;
  for (size_t i = 0; i < a->size() && i < h.compress_ratios.size(); ++i)
    h.compress_ratios[i] = (*a)[i].to_int().value_or(-1);
  (void)k;
}

// config.json: DeepSeek's `compress_ratios` (layers + MTP entries) or
// transformers' `layer_types` + `compress_rates`; `num_hash_layers` or
// transformers' `mlp_layer_types` (hash_moe / moe).
void read_schedule_hf(const nlohmann::json& c, JsonKeys& k, H& h) {
  h.compress_ratios.assign(schedule_size(h), 0);
  if (c.contains("compress_ratios") && c["compress_ratios"].is_array()) {
    for (size_t i = 0; i < h.compress_ratios.size() && i < c["compress_ratios"].size(); ++i)
      h.compress_ratios[i] = c["compress_ratios"][i].is_number_integer() ? c["compress_ratios"][i].get<int64_t>() : -1;
  } else if (c.contains("layer_types") && c["layer_types"].is_array()) {
    int64_t csa = 4, hca = 128;
    if (c.contains("compress_rates") && c["compress_rates"].is_object()) {
      JsonKeys r(c["compress_rates"], "config.json compress_rates");
      csa = r.integer("csa", 4), hca = r.integer("hca", 128);
    }
    for (size_t i = 0; i < h.compress_ratios.size() && i < c["layer_types"].size(); ++i) {
      const std::string t = c["layer_types"][i].is_string() ? c["layer_types"][i].get<std::string>() : "";
      h.compress_ratios[i] = t == "compressed_sparse_attention" ? csa : t == "heavily_compressed_attention" ? hca
                             : t == "sliding_attention" ? 0 : -1;
    }
  }
  h.n_hash_layers = k.integer("num_hash_layers", 0);
  if (c.contains("mlp_layer_types") && c["mlp_layer_types"].is_array()) {
    h.n_hash_layers = 0;
    for (const auto& t : c["mlp_layer_types"])
      if (t.is_string() && t.get<std::string>() == "hash_moe") ++h.n_hash_layers;
  }
  if (c.contains("partial_rotary_factor") && !c.contains("qk_rope_head_dim"))
    h.d_rope = static_cast<int64_t>(std::lround(k.real("partial_rotary_factor", 0) * static_cast<double>(h.head_dim)));
}

// YaRN (compressed layers only): GGUF rope.scaling.*; config.json's rope_scaling
// (DeepSeek) or rope_parameters.compress (transformers).
void write_yarn(const H& h, const std::string& a, GgufWriter& w) {
  if (h.yarn_factor <= 0) return;
  w.set(a + "rope.scaling.type", GgufValue::str("yarn"));
  w.set(a + "rope.scaling.factor", GgufValue::f32(static_cast<float>(h.yarn_factor)));
  w.set(a + "rope.scaling.original_context_length", GgufValue::u32(static_cast<uint32_t>(h.yarn_orig_ctx)));
  w.set(a + "rope.scaling.yarn_beta_fast", GgufValue::f32(static_cast<float>(h.yarn_beta_fast)));
  w.set(a + "rope.scaling.yarn_beta_slow", GgufValue::f32(static_cast<float>(h.yarn_beta_slow)));
}
void read_yarn_gguf(const GgufFile&, GgufKeys& k, H& h) {
  if (k.string("rope.scaling.type") != "yarn") return;
  h.yarn_factor = k.real("rope.scaling.factor", 1.0);
  h.yarn_orig_ctx = k.real("rope.scaling.original_context_length", 4096.0);
  h.yarn_beta_fast = k.real("rope.scaling.yarn_beta_fast", 32.0);
  h.yarn_beta_slow = k.real("rope.scaling.yarn_beta_slow", 1.0);
}
void read_yarn_object(const nlohmann::json& o, JsonKeys& k, H& h) {
  JsonKeys r(o, "config.json rope scaling");
  if (r.string("type", r.string("rope_type", "")) == "yarn") {
    h.yarn_factor = r.real("factor", 1.0);
    h.yarn_orig_ctx = r.real("original_max_position_embeddings", 4096.0);
    h.yarn_beta_fast = r.real("beta_fast", 32.0);
    h.yarn_beta_slow = r.real("beta_slow", 1.0);
  }
  if (o.contains("rope_theta")) h.compress_rope_theta = r.real("rope_theta", h.compress_rope_theta);
  if (!r.ok()) k.fail_with(r.status());
}
void read_yarn_hf(const nlohmann::json& c, JsonKeys& k, H& h) {
  if (c.contains("rope_scaling") && c["rope_scaling"].is_object()) read_yarn_object(c["rope_scaling"], k, h);
  if (!c.contains("rope_parameters") || !c["rope_parameters"].is_object()) return;
  const nlohmann::json& p = c["rope_parameters"];
  if (p.contains("compress") && p["compress"].is_object()) read_yarn_object(p["compress"], k, h);
  if (p.contains("main") && p["main"].is_object() && p["main"].contains("rope_theta") && p["main"]["rope_theta"].is_number())
    h.rope_theta = p["main"]["rope_theta"].get<double>();
}

void write_scoring(const H&, const std::string& a, GgufWriter& w) {
  w.set(a + "expert_gating_func", GgufValue::u32(4));  // sqrt(softplus) (llama.cpp's value: UNCONFIRMED)
}
void read_scoring_hf(const nlohmann::json&, JsonKeys& k, H&) {
  const std::string f = k.string("scoring_func", "sqrtsoftplus");
  if (f != "sqrtsoftplus") k.fail_with(Status::error("config.json: scoring_func '" + f + "': DeepSeek-V4 is sqrtsoftplus"));
}

using P = HParam<H>;
using namespace hparam_limit;
constexpr P kV4Params[] = {
    {.name = "n_ctx", .gguf = "context_length", .hf = "max_position_embeddings", .i = &H::n_ctx, .def = 4096, .lo = 1,
     .hi = kContext},
    {.name = "n_embd", .gguf = "embedding_length", .hf = "hidden_size", .i = &H::n_embd, .gguf_required = true,
     .hf_required = true, .lo = 1, .hi = kWidth},
    {.name = "n_mtp", .gguf = "nextn_predict_layers", .hf = "num_nextn_predict_layers", .i = &H::n_mtp, .lo = 0, .hi = 8},
    {.name = "n_layer", .gguf = "block_count", .hf = "num_hidden_layers", .i = &H::n_layer, .hf_required = true, .lo = 1,
     .hi = kLayers, .read_gguf = read_block_count_with_mtp<H>, .write = write_block_count_with_mtp<H>},
    {.name = "n_vocab", .gguf = "vocab_size", .hf = "vocab_size", .i = &H::n_vocab, .gguf_required = true,
     .hf_required = true, .lo = 1, .hi = 1 << 24},
    {.name = "n_head", .gguf = "attention.head_count", .hf = "num_attention_heads", .i = &H::n_head,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kHeads},
    {.name = "head_dim", .gguf = "attention.key_length", .hf = "head_dim", .i = &H::head_dim, .gguf_required = true,
     .hf_required = true, .lo = 2, .hi = kHeadDim},
    {.name = "d_rope", .gguf = "rope.dimension_count", .hf = "qk_rope_head_dim", .i = &H::d_rope, .def = 64, .lo = 2,
     .hi = kHeadDim},
    {.name = "q_lora_rank", .gguf = "attention.q_lora_rank", .hf = "q_lora_rank", .i = &H::q_lora_rank,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kWidth},
    {.name = "o_groups", .gguf = "attention.output_group_count", .hf = "o_groups", .i = &H::o_groups,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kHeads},
    {.name = "o_lora_rank", .gguf = "attention.output_lora_rank", .hf = "o_lora_rank", .i = &H::o_lora_rank,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kWidth},
    {.name = "window", .gguf = "attention.sliding_window", .hf = "sliding_window", .i = &H::window, .def = 128, .lo = 1,
     .hi = kContext},
    {.name = "rope_theta", .gguf = "rope.freq_base", .hf = "rope_theta", .r = &H::rope_theta, .def = 10000.0, .lo = 1,
     .hi = kRopeTheta, .type = ParamType::kF32},
    {.name = "compress_rope_theta", .gguf = "attention.compress_rope_freq_base", .hf = "compress_rope_theta",
     .r = &H::compress_rope_theta, .def = 160000.0, .lo = 1, .hi = kRopeTheta, .type = ParamType::kF32},
    {.name = "yarn", .read_gguf = read_yarn_gguf, .read_hf = read_yarn_hf, .write = write_yarn},
    {.name = "rms_eps", .gguf = "attention.layer_norm_rms_epsilon", .hf = "rms_norm_eps", .r = &H::rms_eps, .def = 1e-6,
     .lo = 0, .hi = 1, .type = ParamType::kF32},
    {.name = "hc_mult", .gguf = "hyper_connection.count", .hf = "hc_mult", .i = &H::hc_mult, .def = 4, .lo = 1, .hi = 64},
    {.name = "hc_sinkhorn_iters", .gguf = "hyper_connection.sinkhorn_iterations", .hf = "hc_sinkhorn_iters",
     .i = &H::hc_sinkhorn_iters, .def = 20, .lo = 1, .hi = 1000},
    {.name = "hc_eps", .gguf = "hyper_connection.epsilon", .hf = "hc_eps", .r = &H::hc_eps, .def = 1e-6, .lo = 0,
     .hi = 1, .type = ParamType::kF32},
    {.name = "index_n_heads", .gguf = "attention.indexer.head_count", .hf = "index_n_heads", .i = &H::index_n_heads,
     .lo = 0, .hi = kHeads, .write_if_positive = true},
    {.name = "index_head_dim", .gguf = "attention.indexer.key_length", .hf = "index_head_dim", .i = &H::index_head_dim,
     .lo = 0, .hi = kHeadDim, .write_if_positive = true},
    {.name = "index_topk", .gguf = "attention.indexer.top_k", .hf = "index_topk", .i = &H::index_topk, .lo = 0,
     .hi = kContext, .write_if_positive = true},
    {.name = "n_expert", .gguf = "expert_count", .hf = "n_routed_experts", .i = &H::n_expert, .gguf_required = true,
     .hf_required = true, .lo = 1, .hi = kExperts},
    {.name = "n_expert_shared", .gguf = "expert_shared_count", .hf = "n_shared_experts", .i = &H::n_expert_shared,
     .def = 1, .lo = 0, .hi = 1},
    {.name = "n_expert_used", .gguf = "expert_used_count", .hf = "num_experts_per_tok", .i = &H::n_expert_used,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kExperts},
    {.name = "n_ff_exp", .gguf = "expert_feed_forward_length", .hf = "moe_intermediate_size", .i = &H::n_ff_exp,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kWidth},
    {.name = "n_hash_layers", .gguf = "hash_layer_count", .hf = "", .i = &H::n_hash_layers, .lo = 0, .hi = kLayers},
    {.name = "schedule", .read_gguf = read_ratios_gguf, .read_hf = read_schedule_hf, .write = write_ratios},
    {.name = "route_scale", .gguf = "expert_weights_scale", .hf = "routed_scaling_factor", .r = &H::route_scale,
     .def = 1.0, .lo = 0, .hi = kScale, .type = ParamType::kF32},
    {.name = "norm_topk", .gguf = "expert_weights_norm", .hf = "norm_topk_prob", .b = &H::norm_topk, .def = 1,
     .type = ParamType::kBool},
    {.name = "scoring", .read_gguf = [](const GgufFile&, GgufKeys&, H&) {}, .read_hf = read_scoring_hf,
     .write = write_scoring},
    {.name = "swiglu_limit", .gguf = "swiglu_clamp_exp", .hf = "swiglu_limit", .r = &H::swiglu_limit, .lo = 0,
     .hi = kScale, .type = ParamType::kF32},
    // Not a file key: DeepSeek's code clamps the shared expert (see the field).
    {.name = "clamp_shared", .b = &H::clamp_shared, .def = 1, .type = ParamType::kBool, .write_none = true},
};

}  // namespace

std::span<const HParam<DeepseekV4HParams>> deepseek_v4_hparam_table() { return kV4Params; }

Status deepseek_v4_validate(const DeepseekV4HParams& h, const std::string& where) {
  if (Status st = check_hparam_ranges<H>(kV4Params, h, where); !st.ok()) return st;
  auto bad = [&](const std::string& what) { return Status::error(where + ": " + what); };
  if (h.d_rope % 2 || h.d_rope > h.head_dim || h.d_rope > 1024)  // 1024: attention's per-row angle buffer
    return bad("qk_rope_head_dim must be even and at most head_dim (and 1024)");
  if (h.n_head % h.o_groups) return bad("num_attention_heads must be a multiple of o_groups");
  if (h.n_expert_used > h.n_expert) return bad("num_experts_per_tok must be at most n_routed_experts");
  if (static_cast<int64_t>(h.compress_ratios.size()) != h.n_layer) return bad("compress_ratios must name every layer");
  // HCA's ratio is 128 in the released models; test presets use a shorter one
  // (16) so that short sequences reach it. One HCA ratio per model: the
  // compressor's position-bias table is [ratio x d] (docs/design/deepseek-v4.md §2.4).
  int64_t hca_ratio = 0;
  for (int64_t r : h.compress_ratios) {
    if (r != 0 && r != 4 && !(r >= 8 && r <= 128 && (r & (r - 1)) == 0))
      return bad("compress ratios must be 0 (sliding), 4 (CSA) or a power of two in 8..128 (HCA)");
    if (r >= 8 && hca_ratio != 0 && r != hca_ratio) return bad("every HCA layer must have the same compress ratio");
    if (r >= 8) hca_ratio = r;
  }
  if (h.yarn_factor > 0 && !(h.yarn_factor <= hparam_limit::kScale && h.yarn_orig_ctx >= 1 &&
                             h.yarn_orig_ctx <= hparam_limit::kContext))
    return bad("YaRN rope scaling: factor or original context length out of range");
  return ok_status();
}

Result<DeepseekV4HParams> deepseek_v4_hparams_from_gguf(const GgufFile& f) {
  GgufKeys k(f, "deepseek4.");
  DeepseekV4HParams h;
  read_gguf_hparams<H>(kV4Params, f, k, h);
  if (!k.ok()) return k.status();
  if (Status st = deepseek_v4_validate(h, f.path()); !st.ok()) return st;
  return h;
}

Result<DeepseekV4HParams> deepseek_v4_hparams_from_hf_config(const nlohmann::json& c) {
  JsonKeys k(c, "config.json");
  DeepseekV4HParams h;
  read_hf_hparams<H>(kV4Params, c, k, h);
  if (!k.ok()) return k.status();
  if (Status st = deepseek_v4_validate(h, "config.json"); !st.ok()) return st;
  return h;
}

V4CacheBytes deepseek_v4_cache_bytes(const DeepseekV4HParams& h, V4LayerKind kind) {
  constexpr int64_t f32 = 4;
  const int64_t d = h.head_dim, ring = h.window * d * f32;
  if (kind == V4LayerKind::kSliding) return {0.0, ring};
  if (kind == V4LayerKind::kCsa) {  // 4:1 entries + index keys; overlapping windows: 2m pending (A, Z) rows of 2d
    const int64_t m = 4, di = h.index_head_dim;
    return {static_cast<double>((d + di) * f32) / static_cast<double>(m), ring + 2 * 2 * m * (2 * d + 2 * di) * f32};
  }
  const int64_t m = 128;  // HCA: 128:1 entries; one open window of (A, Z) rows of d
  return {static_cast<double>(d * f32) / static_cast<double>(m), ring + 2 * m * d * f32};
}

std::vector<std::pair<std::string, std::string>> deepseek_v4_cache_lines(const DeepseekV4HParams& h) {
  auto num = [](double x) { std::ostringstream o; o << x; return o.str(); };
  auto kib = [&](int64_t b) { return num(static_cast<double>(b) / 1024.0) + " KiB"; };
  const char* names[3] = {"sliding", "CSA", "HCA"};
  int64_t count[3] = {0, 0, 0};
  for (int64_t l = 0; l < h.n_layer; ++l) ++count[static_cast<int>(h.kind(l))];
  std::vector<std::pair<std::string, std::string>> out;
  double per_token = 0;
  int64_t fixed = 0;
  for (int k = 0; k < 3; ++k) {
    const V4CacheBytes c = deepseek_v4_cache_bytes(h, static_cast<V4LayerKind>(k));
    out.push_back({std::string("ring layout (planned): bytes / token / layer (") + names[k] + ")",
                   num(c.per_token) + " + " + kib(c.fixed) + " fixed per sequence (f32; " + num(static_cast<double>(count[k])) + " layers)"});
    per_token += c.per_token * static_cast<double>(count[k]);
    fixed += c.fixed * count[k];
  }
  const double at_1m = (per_token * 1048576.0 + static_cast<double>(fixed)) / (1024.0 * 1024.0 * 1024.0);
  out.push_back({"ring layout (planned): bytes / token", num(per_token) + " + " + kib(fixed) + " fixed; " +
                                             num(std::round(at_1m * 100) / 100) + " GiB per sequence at 1 Mi tokens"});
  return out;
}

// V4-Flash's released shapes (docs/design/deepseek-v4.md §1): 43 layers —
// 0-1 sliding, then CSA (even) and HCA (odd) — 256 experts of 2048, 6 per
// token, the first 3 layers hash-routed; `init` writes its experts as MXFP4.
DeepseekV4HParams deepseek_v4_flash_hparams() {
  DeepseekV4HParams h;
  h.n_vocab = 129280; h.n_embd = 4096; h.n_layer = 43; h.n_head = 64; h.n_ctx = 1048576;
  h.head_dim = 512; h.d_rope = 64; h.q_lora_rank = 1024; h.o_groups = 8; h.o_lora_rank = 1024; h.window = 128;
  h.hc_mult = 4; h.hc_sinkhorn_iters = 20; h.hc_eps = 1e-6; h.rms_eps = 1e-6;
  h.rope_theta = 10000.0; h.compress_rope_theta = 160000.0;
  h.yarn_factor = 16; h.yarn_orig_ctx = 65536; h.yarn_beta_fast = 32; h.yarn_beta_slow = 1;
  h.index_n_heads = 64; h.index_head_dim = 128; h.index_topk = 512;
  h.n_expert = 256; h.n_expert_shared = 1; h.n_expert_used = 6; h.n_ff_exp = 2048; h.n_hash_layers = 3;
  h.route_scale = 1.5; h.swiglu_limit = 10.0; h.norm_topk = true;
  for (int64_t l = 0; l < h.n_layer; ++l) h.compress_ratios.push_back(l < 2 ? 0 : l % 2 == 0 ? 4 : 128);
  return h;
}

bool deepseek_v4_known_preset(std::string_view preset) {
  return preset == "tiny" || preset == "small" || preset == "flash" || preset == "v4-flash";
}

// tiny: every layer kind and MLP kind in a few KB (docs/design/deepseek-v4.md §6
// "Tests"), the window short enough that 64 tokens evict from it; HCA at
// ratio 16 and the indexer's top-k small so that 64 tokens make both act.
DeepseekV4HParams deepseek_v4_preset_hparams(std::string_view preset) {
  if (preset == "flash" || preset == "v4-flash") return deepseek_v4_flash_hparams();
  DeepseekV4HParams h;
  const bool small = preset == "small";
  h.n_embd = small ? 256 : 64; h.n_layer = small ? 4 : 3; h.n_head = small ? 8 : 4;
  h.head_dim = small ? 128 : 64; h.d_rope = small ? 32 : 16; h.q_lora_rank = small ? 96 : 32;
  h.o_groups = 2; h.o_lora_rank = small ? 64 : 16; h.window = 8;
  h.hc_mult = 4; h.hc_sinkhorn_iters = 20; h.hc_eps = 1e-6;
  h.n_expert = small ? 16 : 8; h.n_expert_used = 2; h.n_ff_exp = small ? 128 : 32; h.n_expert_shared = 1;
  h.n_hash_layers = 1; h.route_scale = 1.5; h.swiglu_limit = small ? 10.0 : 0.5; h.norm_topk = true;
  h.rope_theta = 10000.0; h.compress_rope_theta = 160000.0;
  h.yarn_factor = 4; h.yarn_orig_ctx = 16;
  h.compress_ratios = small ? std::vector<int64_t>{0, 4, 16, 4} : std::vector<int64_t>{0, 4, 16};  // sliding, CSA, HCA
  h.index_n_heads = small ? 4 : 2; h.index_head_dim = small ? 64 : 32; h.index_topk = small ? 8 : 4;
  h.n_ctx = 4096;
  return h;
}

}  // namespace dseek
