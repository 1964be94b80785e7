// Converting a model to GGUF with a chosen weight type (`dseek quantize`):
// from a GGUF file (re-quantised) or a Hugging Face directory (DeepSeek's
// names, FP8 block-scaled weights dequantised on the way, per-expert tensors
// merged, the joint kv_b split per head). Streams row by row, so
// memory stays at one tensor row plus one layer's kv_b, whatever the model size.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "format/gguf_writer.h"
#include "model/model_files.h"

namespace dseek {

struct ConvertOptions {
  DType type = DType::kQ8_0;    // matrices; norms, biases and the router stay f32
  std::string tokenizer_pre;    // pre-tokenizer name for a tokenizer.json import ("" = by architecture)
  // Per-tensor type by GGUF name (`quantize --type-map`); empty: `type` for every matrix.
  // Non-matrix tensors stay f32 whatever it says.
  std::function<DType(const std::string& gguf_name)> type_of;
  // Per-column importance of a matrix row (`quantize --imatrix`): row `row` of
  // tensor gguf_name (GGUF shape ne) -> ne[0] weights, or nullptr (unweighted).
  std::function<const float*(const std::string& gguf_name, const std::vector<int64_t>& ne, int64_t row)> importance;
};

Status convert_to_gguf(const ModelFiles& in, const ConvertOptions& opt, const std::string& out_path,
                       const GgufWriter::ProgressFn& progress);

}  // namespace dseek
