// Writing what training produced: the model as a GGUF in llama.cpp's
// `deepseek2` layout (what `dseek run` / `serve` and other engines load), and
// back. Resumable checkpoints are in train/checkpoint.h.
#pragma once

#include <memory>
#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "train/checkpoint.h"  // checkpoints lived here; their users still include this header
#include "train/optimizer.h"
#include "train/train_model.h"

namespace dseek::train {

struct ExportOptions {
  std::string tokenizer_path;  // a GGUF vocabulary (e.g. from `dseek train tokenizer`) or tokenizer.json
  DType dtype = DType::kF32;   // for matrices; norms, router and biases stay f32
  std::string name = "dseek-trained";
  std::string description;     // stored as general.description
};
Status export_gguf(const TrainModel<float>& m, const ExportOptions& opt, const std::string& path);

// Loads a DeepSeek-architecture GGUF (any stored dtype, dequantised to f32)
// as a trainable model: the inverse of export_gguf (GRPO and fine-tuning start here).
Result<std::unique_ptr<TrainModel<float>>> import_gguf(const std::string& path, int64_t max_seq);

}  // namespace dseek::train
