// The explicit list of architectures: GGUF `general.architecture` / HF
// `model_type` / `dseek init --arch` names -> the arch file's factory.
// Adding an architecture is one line here.
#include <nlohmann/json.hpp>

#include "model/arch.h"
#include "model/common_tensors.h"

namespace dseek {

Result<std::unique_ptr<Architecture>> architecture_from_gguf(const GgufFile& f) {
  const auto arch = f.get_string("general.architecture");
  if (!arch) return Status::error(f.path() + ": no general.architecture key: not a model file (a vocabulary-only GGUF?)");
  if (*arch == "deepseek2" || *arch == "deepseek32") return deepseek_from_gguf(f);
  if (*arch == "deepseek4") return deepseek_v4_from_gguf(f);
  if (*arch == "llama") return llama_from_gguf(f, false);
  if (*arch == "qwen2") return llama_from_gguf(f, true);
  return Status::error(f.path() + ": architecture '" + *arch + "' is not supported (deepseek2, deepseek32, deepseek4, llama, qwen2 are)");
}

bool is_known_gguf_architecture(std::string_view name) {
  return name == "deepseek2" || name == "deepseek32" || name == "deepseek4" || name == "llama" || name == "qwen2";
}

Result<std::unique_ptr<Architecture>> architecture_from_hf_config(const nlohmann::json& c) {
  if (!c.is_object() || !c.contains("model_type") || !c["model_type"].is_string())
    return Status::error("config.json: no model_type string");
  const std::string type = c["model_type"].get<std::string>();
  if (type == "deepseek_v3" || type == "deepseek_v2" || type == "deepseek_v32") return deepseek_from_hf_config(c);
  if (type == "deepseek_v4") return deepseek_v4_from_hf_config(c);
  if (type == "llama") return llama_from_hf_config(c, false);
  if (type == "qwen2") return llama_from_hf_config(c, true);
  return Status::error("config.json: model_type '" + type + "' is not supported (deepseek_v2, deepseek_v3, deepseek_v32, deepseek_v4, llama, qwen2 are)");
}

std::vector<std::string_view> architecture_names() { return {"deepseek-v3", "deepseek-v2", "deepseek-v32", "deepseek-v4", "llama", "qwen2"}; }

Result<std::unique_ptr<Architecture>> architecture_preset(std::string_view arch, std::string_view preset,
                                                           int64_t vocab_size, int64_t n_mtp, int64_t n_layer) {
  if (n_layer != -1 && (n_layer < 1 || n_layer > 1024)) return Status::error("--layers must be between 1 and 1024");
  if (arch == "deepseek-v3" || arch == "deepseek-v2" || arch == "deepseek-v32")
    return deepseek_preset(arch, preset, vocab_size, n_mtp, n_layer);
  if (arch == "deepseek-v4") return deepseek_v4_preset(preset, vocab_size, n_mtp, n_layer);
  if (n_mtp > 0) return Status::error("--mtp: only DeepSeek architectures have multi-token-prediction layers");
  if (arch == "llama") return llama_preset(preset, vocab_size, false, n_layer);
  if (arch == "qwen2") return llama_preset(preset, vocab_size, true, n_layer);
  return Status::error("unknown architecture '" + std::string(arch) + "' (deepseek-v3, deepseek-v2, deepseek-v32, deepseek-v4, llama, qwen2)");
}

ParamCounts count_params(const Architecture& arch, const std::vector<std::pair<std::string, int64_t>>& tensors) {
  ParamCounts c;
  double active = 0;
  for (const auto& [name, n] : tensors) {
    c.total += n;
    if (arch.is_mtp_tensor(name)) {
      c.mtp += n;
      continue;
    }
    // The input embedding is a row lookup, not compute: DeepSeek's published
    // "activated parameters" (V2-Lite 2.4B, V3 37B) leave it out, and so do we.
    if (!common_tensors::is_token_embedding(name)) active += static_cast<double>(n) * arch.active_fraction(name);
  }
  c.active = static_cast<int64_t>(active + 0.5);
  return c;
}

}  // namespace dseek

