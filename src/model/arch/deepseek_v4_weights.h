// A DeepSeek-V4 Hugging Face directory's tensors as the V4 tensor table binds
// them (docs/design/deepseek-v4.md §3): DeepSeek's own names translated to
// transformers' (deepseek_v4_names.h); FP8 block scales `.scale` in E8M0 (or
// F32, the -Base models) turned into the F32 `weight_scale_inv` the FP8 matrix
// views take (FP8 weights stay in place); integer tid2eid tables as floats;
// and each layer's routed experts — DeepSeek's packed FP4 with E8M0 scales,
// per-expert float/FP8 tensors, or transformers' merged gate_up_proj /
// down_proj — merged into the table's [X][rows][cols] expert tensors, the FP4
// ones repacked bit-exactly into dseek's MXFP4 blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "format/weight_source.h"
#include "model/arch.h"

namespace dseek {

// `in` with V4's tensors translated as above (views onto `in`'s files where no
// conversion is needed; `in`'s files stay mapped while the result lives).
// Errors name the tensor: an unknown DeepSeek name, a missing expert or
// scale, a scale of the wrong shape or type, a NaN scale byte (0xFF).
// n_layer, n_expert: the config's (MTP blocks are layers n_layer...; each layer
// has n_expert routed experts); `specs`: the architecture's tensors, each of
// which must be there (a missing one is named as the file would name it).
Result<WeightSource> deepseek_v4_hf_weights(const WeightSource& in, int64_t n_layer, int64_t n_expert,
                                           const std::vector<TensorSpec>& specs, const std::string& where);

}  // namespace dseek
