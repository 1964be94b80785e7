// DeepSeek-V4's tensor names as DeepSeek's own checkpoints spell them
// (`embed.weight`, `layers.N.attn.wq_a.weight` + `.scale`,
// `layers.N.ffn.experts.E.w1.weight`, `hc_head_fn`, `mtp.0.*`; see
// docs/design/deepseek-v4.md §3.1) translated to the transformers names the
// V4 tensor table binds (§3.4). Pure string work; what the tensors hold is
// deepseek_v4_weights.h's job.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dseek {

// The transformers name of DeepSeek's tensor `ds`, "" when `ds` is not a V4
// tensor name. A weight's `.scale` becomes `.weight_scale_inv`, the FP8
// companion name the binder looks for. MTP block k (`mtp.k.*`) becomes layer
// n_layer + k, its own tensors (e_proj, h_proj, enorm, hnorm, norm, hc_head_*)
// keeping DeepSeek's names under that prefix.
std::string deepseek_v4_transformers_name(std::string_view ds, int64_t n_layer);

// The inverse: DeepSeek's name of the transformers name `hf` (layers n_layer...
// are MTP blocks), "" when it has none. For messages about missing tensors.
std::string deepseek_v4_native_name(std::string_view hf, int64_t n_layer);

// True when a tensor list looks like DeepSeek's naming (it has `embed.weight`
// or a `layers.0.` tensor): the directory is translated, not read as is.
bool is_deepseek_v4_native_name(std::string_view name);

}  // namespace dseek
