// ModelFiles: opens what a user points dseek at — a GGUF file, a .safetensors
// file, or a Hugging Face model directory (config.json + safetensors shards +
// tokenizer files) — validates it, and binds the architecture and weights.
// Does not build the runnable model (that is the arch's forward, issue 4).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "format/gguf.h"
#include "format/safetensors.h"
#include "format/weight_source.h"
#include "kernels/cache_rows.h"
#include "model/arch.h"

namespace dseek {

class LoraAdapters;
class ExpertExecutor;

struct ModelFiles {
  enum class Format { kGguf, kSafetensors };
  Format format = Format::kGguf;
  std::string path;
  std::shared_ptr<const GgufFile> gguf;             // kGguf
  std::shared_ptr<const Safetensors> safetensors;   // kSafetensors
  std::optional<nlohmann::json> hf_config;          // config.json
  std::optional<nlohmann::json> tokenizer_config;   // tokenizer_config.json
  std::string tokenizer_json;                       // path to tokenizer.json, "" if none
  WeightSource weights;
  std::unique_ptr<Architecture> arch;               // null for a vocabulary-only GGUF or a bare .safetensors
  std::string arch_error;                           // why arch is null
  std::shared_ptr<const LoraAdapters> adapters;     // --lora: applied by the forward pass without merging
  KvCacheType cache_type = KvCacheType::kF32;       // --cache-type: how MLA models store their latent cache
  bool dense_attention = false;                     // bench --dense: V3.2 skips its indexer, every key attended
  std::shared_ptr<const ExpertExecutor> experts;    // --ep: where routed experts run (null: here; src/dist)
};

Result<ModelFiles> open_model_files(const std::string& path, const MapOptions& map = {});

}  // namespace dseek
