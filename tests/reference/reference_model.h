// Independent float64 reference forward for every architecture dseek runs
// (deepseek2 = DeepSeek V2 / V2-Lite / V3 / R1 / V3.1, llama, qwen2), written
// straight from the equations to check the optimised path in src/model against.
// Not fast and not shared with src/model or src/kernels compute code: it only
// borrows the GGUF reader and dequantize_row (the file format, not the model).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace dseek::reference {

struct RefOptions {
  bool use_yarn = true;  // false: plain RoPE and softmax scale even if the file asks for YaRN
};

// Loads every weight of the GGUF model at `path` into float64 and runs the whole
// prompt `tokens` from an empty cache. Returns logits row-major [tokens.size() x n_vocab].
// Errors (unsupported arch, missing tensor) -> Status in the Result.
Result<std::vector<double>> forward_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens);
// DeepSeek-V3 MTP module (layer index n_layer): for positions i = 0..T-2, draft logits for
// token i+2 given trunk hidden h_i and token t_{i+1}. Returns [(T-1) x n_vocab].
Result<std::vector<double>> mtp_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens);

// The same with options (the two above use RefOptions{}).
Result<std::vector<double>> forward_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens,
                                           const RefOptions& options);
Result<std::vector<double>> mtp_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens,
                                       const RefOptions& options);

}  // namespace dseek::reference
