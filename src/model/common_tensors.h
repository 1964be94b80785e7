// The tensor names every llama.cpp-style architecture here shares (GGUF name,
// Hugging Face name), written once; each architecture's slot table uses them.
#pragma once

#include <string_view>

namespace dseek::common_tensors {

struct Names {
  std::string_view gguf, hf;
};

// Global tensors.
constexpr Names kTokenEmbd{"token_embd.weight", "model.embed_tokens.weight"};
constexpr Names kOutputNorm{"output_norm.weight", "model.norm.weight"};
constexpr Names kOutput{"output.weight", "lm_head.weight"};
// Per layer (after "blk.N." / "model.layers.N.").
constexpr Names kAttnNorm{"attn_norm.weight", "input_layernorm.weight"};
constexpr Names kAttnQ{"attn_q.weight", "self_attn.q_proj.weight"};
constexpr Names kAttnOut{"attn_output.weight", "self_attn.o_proj.weight"};
constexpr Names kFfnNorm{"ffn_norm.weight", "post_attention_layernorm.weight"};
constexpr Names kFfnGate{"ffn_gate.weight", "mlp.gate_proj.weight"};
constexpr Names kFfnDown{"ffn_down.weight", "mlp.down_proj.weight"};
constexpr Names kFfnUp{"ffn_up.weight", "mlp.up_proj.weight"};

// True for the input embedding under either name (a row lookup, not compute).
constexpr bool is_token_embedding(std::string_view name) { return name == kTokenEmbd.gguf || name == kTokenEmbd.hf; }

}  // namespace dseek::common_tensors
