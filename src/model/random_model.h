// Writing a random model of a given architecture as GGUF (`dseek init`):
// weights drawn from a seeded generator per tensor (same seed, same file),
// scaled so activations stay O(1) through the layers and logits spread like a
// trained model's. Streams tensor by tensor; never holds the model in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "format/gguf_writer.h"
#include "model/arch.h"

namespace dseek {

struct RandomModelOptions {
  DType dtype = DType::kF32;  // for matrices; norms, biases and the router stay f32
  // Routed experts (the merged-experts tensors) in this type instead, e.g.
  // MXFP4 as DeepSeek-V4 ships them; nullopt: `dtype`.
  std::optional<DType> expert_dtype;
  uint64_t seed = 42;
  std::string name = "dseek-random";
};

// The dtype a tensor is stored in: `wanted` when its rows are whole blocks,
// else the nearest type that fits (q8_0, then f16); norms etc. always f32.
DType storage_dtype(const TensorSpec& spec, DType wanted);

// Declares metadata + tensors on `w` (the caller adds tokenizer keys first or
// after), then writes the file. progress(done, total) in bytes.
Status write_random_model(const Architecture& arch, const RandomModelOptions& opt, GgufWriter& w,
                          const std::string& path, const GgufWriter::ProgressFn& progress);

}  // namespace dseek
