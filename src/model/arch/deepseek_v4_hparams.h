// DeepSeek-V4 (Flash / Pro) hyper-parameters: the struct, its table (GGUF
// `deepseek4.*` keys as llama.cpp names them, and the Hub config.json keys,
// both DeepSeek's dialect and transformers'), checks and `dseek init` presets.
// The architecture itself is model/arch/deepseek_v4.cpp; the equations are
// docs/design/deepseek-v4.md §2.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/arch.h"
#include "model/hparam_table.h"

namespace dseek {

// What a layer attends to besides its sliding window (docs/design/deepseek-v4.md §2.4):
// nothing, the top-k of 4:1 compressed entries (CSA) or all 128:1 entries (HCA).
enum class V4LayerKind { kSliding, kCsa, kHca };

struct DeepseekV4HParams {
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_ctx = 4096, n_mtp = 0;
  int64_t head_dim = 0, d_rope = 0;                // one latent head, K = V; RoPE on its last d_rope channels
  int64_t q_lora_rank = 0, o_groups = 1, o_lora_rank = 0, window = 128;
  int64_t hc_mult = 4, hc_sinkhorn_iters = 20;     // mHC streams and Sinkhorn-Knopp iterations
  double hc_eps = 1e-6, rms_eps = 1e-6;
  double rope_theta = 10000.0, compress_rope_theta = 160000.0;  // sliding layers / compressed layers
  double yarn_factor = 0.0, yarn_orig_ctx = 0.0, yarn_beta_fast = 32.0, yarn_beta_slow = 1.0;  // compressed layers only
  int64_t index_n_heads = 0, index_head_dim = 0, index_topk = 0;  // CSA's lightning indexer
  int64_t n_expert = 0, n_expert_shared = 1, n_expert_used = 0, n_ff_exp = 0, n_hash_layers = 0;
  double route_scale = 1.0, swiglu_limit = 0.0;    // swiglu_limit 0: no clamp
  bool norm_topk = true;
  // DeepSeek's released inference code clamps the shared expert as well as
  // the routed ones (docs/design/deepseek-v4.md §2.6: every model.py copy read);
  // the issue believed only transformers does, hence a switch.
  bool clamp_shared = true;
  std::vector<int64_t> compress_ratios;            // per main layer: 0 sliding, 4 CSA, 128 HCA

  V4LayerKind kind(int64_t layer) const {
    const int64_t r = layer < static_cast<int64_t>(compress_ratios.size()) ? compress_ratios[static_cast<size_t>(layer)] : 0;
    return r == 0 ? V4LayerKind::kSliding : r == 4 ? V4LayerKind::kCsa : V4LayerKind::kHca;
  }
  bool hash_layer(int64_t layer) const { return layer < n_hash_layers && layer < n_layer; }
  int64_t hc_mix() const { return (2 + hc_mult) * hc_mult; }  // pre n, post n, comb n x n
};

// The cache a layer of one kind keeps per sequence, in f32 (docs/design/deepseek-v4.md §5):
// bytes that grow with each token (compressed entries, CSA's index keys) and
// fixed bytes (the window's ring, the compressors' pending rows).
struct V4CacheBytes {
  double per_token = 0;
  int64_t fixed = 0;
};
V4CacheBytes deepseek_v4_cache_bytes(const DeepseekV4HParams& h, V4LayerKind kind);
// `inspect`'s lines for the above: per layer kind, and the model's total (also at 1 Mi tokens).
std::vector<std::pair<std::string, std::string>> deepseek_v4_cache_lines(const DeepseekV4HParams& h);

std::span<const HParam<DeepseekV4HParams>> deepseek_v4_hparam_table();
Status deepseek_v4_validate(const DeepseekV4HParams& h, const std::string& where);
Result<DeepseekV4HParams> deepseek_v4_hparams_from_gguf(const GgufFile& f);
Result<DeepseekV4HParams> deepseek_v4_hparams_from_hf_config(const nlohmann::json& c);
// preset: tiny | small | flash (alias v4-flash) (checked by the caller with deepseek_v4_known_preset).
DeepseekV4HParams deepseek_v4_preset_hparams(std::string_view preset);
bool deepseek_v4_known_preset(std::string_view preset);
// V4-Flash's real shapes (the flash preset).
DeepseekV4HParams deepseek_v4_flash_hparams();

}  // namespace dseek
