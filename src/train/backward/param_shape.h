// Trainable parameters shaped by the DeepSeek tensor table (model/deepseek.h):
// the GGUF name and rows x cols of a slot, so the trainer, the forward pass
// and `dseek init` cannot disagree.
#pragma once

#include <string>

#include "model/deepseek.h"
#include "train/param.h"

namespace dseek::train {

// "<layer prefix>N.<merged name>.weight", e -> "<layer prefix>N.<merged name>.e"
inline std::string expert_param_name(const std::string& merged_gguf_name, int64_t e) {
  const std::string stem = merged_gguf_name.substr(0, merged_gguf_name.rfind('.'));
  return stem + "." + std::to_string(e);
}

template <typename T>
void shape_slot(Param<T>& p, DsTensor id, const DeepseekHParams& h, int64_t layer = -1) {
  const DeepseekTensors& t = deepseek_tensors();
  const bool vector = t.slot(id).init == TensorInit::kNormWeight;
  p.shape(t.gguf_name(id, layer), vector ? 1 : t.rows(id, h), t.cols(id, h), !vector);
}

// One routed expert's share of a merged-experts slot, named "<GGUF name without .weight>.<e>"
// (export merges them back into the slot's 3-D tensor).
template <typename T>
void shape_expert(Param<T>& p, DsTensor id, const DeepseekHParams& h, int64_t layer, int64_t e) {
  const DeepseekTensors& t = deepseek_tensors();
  p.shape(expert_param_name(t.gguf_name(id, layer), e), t.per_expert_rows(id, h), t.cols(id, h));
}

}  // namespace dseek::train
