// Llama / Qwen2 hyper-parameters (shared by the architecture file
// model/arch/llama.cpp and the tests).
#pragma once

#include <cstdint>
#include <memory>

#include "model/model.h"
#include "model/tensor_table.h"

namespace dseek {

struct LlamaHParams {
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx = 2048, d_head = 0;
  double rope_theta = 10000.0, rms_eps = 1e-5;
  bool tied_embeddings = false;
  bool qkv_bias = false;  // Qwen2
};

// The Llama / Qwen2 tensor slots in GGUF file order (table in model/arch/llama.cpp).
enum class LlamaTensor {
  kTokenEmbd,
  kAttnNorm, kQ, kQBias, kK, kKBias, kV, kVBias, kAttnOut, kFfnNorm, kGate, kDown, kUp,
  kOutputNorm, kOutput,
};
using LlamaTensors = TensorTable<LlamaHParams, LlamaTensor>;
const LlamaTensors& llama_tensors();

Result<std::unique_ptr<Model>> create_llama_model(const LlamaHParams& h, std::shared_ptr<const ModelFiles> files);

}  // namespace dseek
