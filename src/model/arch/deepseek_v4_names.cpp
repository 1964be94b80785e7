// See deepseek_v4_names.h. The renames, one table: transformers' conversion
// mapping for deepseek_v4 written out per tensor (docs/design/deepseek-v4.md §3.4).
#include "model/arch/deepseek_v4_names.h"

#include <charconv>
#include <utility>

namespace dseek {
namespace {

using Rename = std::pair<std::string_view, std::string_view>;

// Whole names (no `.weight` / `.scale` suffix to split off) inside a layer.
constexpr Rename kLayerWhole[] = {
    {"hc_attn_fn", "attn_hc.fn"}, {"hc_attn_base", "attn_hc.base"}, {"hc_attn_scale", "attn_hc.scale"},
    {"hc_ffn_fn", "ffn_hc.fn"},   {"hc_ffn_base", "ffn_hc.base"},   {"hc_ffn_scale", "ffn_hc.scale"},
    {"attn.attn_sink", "self_attn.sinks"},
    {"attn.compressor.ape", "self_attn.compressor.position_bias"},
    {"attn.indexer.compressor.ape", "self_attn.compressor.indexer.position_bias"},
    {"ffn.gate.bias", "mlp.gate.e_score_correction_bias"},
    {"ffn.gate.tid2eid", "mlp.gate.tid2eid"},
};

// Module names inside a layer; `.weight` and `.scale` follow them.
constexpr Rename kLayerModule[] = {
    {"attn_norm", "input_layernorm"},
    {"ffn_norm", "post_attention_layernorm"},
    {"attn.wq_a", "self_attn.q_a_proj"},
    {"attn.q_norm", "self_attn.q_a_norm"},
    {"attn.wq_b", "self_attn.q_b_proj"},
    {"attn.wkv", "self_attn.kv_proj"},
    {"attn.kv_norm", "self_attn.kv_norm"},
    {"attn.wo_a", "self_attn.o_a_proj"},
    {"attn.wo_b", "self_attn.o_b_proj"},
    {"attn.compressor.wkv", "self_attn.compressor.kv_proj"},
    {"attn.compressor.wgate", "self_attn.compressor.gate_proj"},
    {"attn.compressor.norm", "self_attn.compressor.kv_norm"},
    {"attn.indexer.wq_b", "self_attn.compressor.indexer.q_b_proj"},
    {"attn.indexer.weights_proj", "self_attn.compressor.indexer.weights_proj"},
    {"attn.indexer.compressor.wkv", "self_attn.compressor.indexer.kv_proj"},
    {"attn.indexer.compressor.wgate", "self_attn.compressor.indexer.gate_proj"},
    {"attn.indexer.compressor.norm", "self_attn.compressor.indexer.kv_norm"},
    {"ffn.gate", "mlp.gate"},
    {"ffn.shared_experts.w1", "mlp.shared_experts.gate_proj"},
    {"ffn.shared_experts.w2", "mlp.shared_experts.down_proj"},
    {"ffn.shared_experts.w3", "mlp.shared_experts.up_proj"},
};

// The MTP block's own tensors (kept under DeepSeek's names).
constexpr std::string_view kMtpOwn[] = {"e_proj", "h_proj", "enorm", "hnorm", "norm", "hc_head_fn", "hc_head_base",
                                        "hc_head_scale"};

constexpr Rename kGlobal[] = {
    {"embed.weight", "model.embed_tokens.weight"}, {"head.weight", "lm_head.weight"},
    {"norm.weight", "model.norm.weight"},          {"hc_head_fn", "model.hc_head.hc_fn"},
    {"hc_head_base", "model.hc_head.hc_base"},     {"hc_head_scale", "model.hc_head.hc_scale"},
};

// Reads "N." off the front of s into n.
bool take_index(std::string_view& s, int64_t& n) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end == s.data() || end == s.data() + s.size() || *end != '.' || n < 0) return false;
  s.remove_prefix(static_cast<size_t>(end - s.data()) + 1);
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool take_prefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// "ffn.experts.E.wK" -> "mlp.experts.E.{gate,down,up}_proj"; "" if not that.
std::string expert_module(std::string_view m) {
  int64_t e = 0;
  if (!take_prefix(m, "ffn.experts.") || !take_index(m, e)) return {};
  const std::string_view proj = m == "w1" ? "gate_proj" : m == "w2" ? "down_proj" : m == "w3" ? "up_proj" : "";
  return proj.empty() ? std::string() : "mlp.experts." + std::to_string(e) + "." + std::string(proj);
}

// A name inside a layer (after "layers.N."), translated; "" if unknown.
std::string layer_tensor(std::string_view rest, bool mtp) {
  for (const auto& [ds, hf] : kLayerWhole)
    if (rest == ds) return std::string(hf);
  const size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos) {
    for (std::string_view own : kMtpOwn)
      if (mtp && rest == own) return std::string(rest);
    return {};
  }
  const std::string_view module = rest.substr(0, dot), suffix = rest.substr(dot + 1);
  if (suffix != "weight" && suffix != "scale") return {};
  const std::string tail = suffix == "weight" ? ".weight" : ".weight_scale_inv";
  for (const auto& [ds, hf] : kLayerModule)
    if (module == ds) return std::string(hf) + tail;
  if (std::string ex = expert_module(module); !ex.empty()) return ex + tail;
  for (std::string_view own : kMtpOwn)
    if (mtp && module == own) return std::string(module) + tail;
  return {};
}

}  // namespace

std::string deepseek_v4_transformers_name(std::string_view ds, int64_t n_layer) {
  for (const auto& [d, hf] : kGlobal)
    if (ds == d) return std::string(hf);
  std::string_view rest = ds;
  int64_t n = 0;
  const bool mtp = take_prefix(rest, "mtp.");
  if (!mtp && !take_prefix(rest, "layers.")) return {};
  if (!take_index(rest, n)) return {};
  const std::string inner = layer_tensor(rest, mtp);
  if (inner.empty()) return {};
  return "model.layers." + std::to_string(mtp ? n_layer + n : n) + "." + inner;
}

std::string deepseek_v4_native_name(std::string_view hf, int64_t n_layer) {
  for (const auto& [d, h] : kGlobal)
    if (hf == h) return std::string(d);
  std::string_view rest = hf;
  int64_t n = 0;
  if (!take_prefix(rest, "model.layers.") || !take_index(rest, n)) return {};
  const std::string block = n < n_layer ? "layers." + std::to_string(n) + "." : "mtp." + std::to_string(n - n_layer) + ".";
  for (const auto& [ds, h] : kLayerWhole)
    if (rest == h) return block + std::string(ds);
  std::string_view module = rest;
  std::string tail;
  if (ends_with(module, ".weight_scale_inv")) module.remove_suffix(17), tail = ".scale";
  else if (ends_with(module, ".weight")) module.remove_suffix(7), tail = ".weight";
  else return {};
  for (const auto& [ds, h] : kLayerModule)
    if (module == h) return block + std::string(ds) + tail;
  int64_t e = 0;
  if (take_prefix(module, "mlp.experts.") && take_index(module, e)) {
    const std::string_view w = module == "gate_proj" ? "w1" : module == "down_proj" ? "w2" : module == "up_proj" ? "w3" : "";
    if (!w.empty()) return block + "ffn.experts." + std::to_string(e) + "." + std::string(w) + tail;
  }
  return {};
}

bool is_deepseek_v4_native_name(std::string_view name) {
  return name == "embed.weight" || name.substr(0, 9) == "layers.0.";
}

}  // namespace dseek
