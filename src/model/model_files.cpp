// See model_files.h.
#include "model/model_files.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "format/json_file.h"
#include "model/arch/deepseek_v4_hparams.h"
#include "model/arch/deepseek_v4_weights.h"

namespace dseek {
namespace {

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char m[4] = {};
  return in.read(m, 4) && std::string_view(m, 4) == "GGUF";
}

// An optional JSON file: nullopt when absent, an error when present but unreadable.
Result<std::optional<nlohmann::json>> read_optional_json(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::optional<nlohmann::json>();
  auto c = read_json_file(file.string());
  if (!c.ok()) return c.status();
  return std::optional<nlohmann::json>(std::move(c).value());
}

// The weights of one .safetensors file or a (sharded) model directory.
Status attach_safetensors(ModelFiles& m, const std::string& path, const MapOptions& map) {
  auto st = Safetensors::open(path, map);
  if (!st.ok()) return st.status();
  auto shared = std::make_shared<const Safetensors>(std::move(st).value());
  m.format = ModelFiles::Format::kSafetensors;
  m.safetensors = shared;
  m.weights = WeightSource::from_safetensors(shared);
  return ok_status();
}

// DeepSeek-V4 safetensors as released: DeepSeek's names, E8M0 scales, FP4
// experts, transformers' merged experts (arch/deepseek_v4_weights.h).
Status adopt_deepseek_v4_weights(ModelFiles& m, const std::string& path) {
  if (m.arch->name() != "deepseek-v4") return ok_status();
  auto h = deepseek_v4_hparams_from_hf_config(*m.hf_config);
  if (!h.ok()) return h.status();
  auto w = deepseek_v4_hf_weights(m.weights, h->n_layer, h->n_expert, m.arch->tensor_specs(), path);
  if (!w.ok()) return w.status();
  m.weights = std::move(w).value();
  return ok_status();
}

// A Hugging Face model directory: config.json (required), tokenizer files, safetensors shards.
Result<ModelFiles> open_hf_directory(ModelFiles m, const std::string& path, const MapOptions& map) {
  const std::filesystem::path dir = path;
  auto config = read_optional_json(dir / "config.json");
  if (!config.ok()) return config.status();
  if (!*config) return Status::error(path + ": no config.json here: not a Hugging Face model directory");
  m.hf_config = std::move(**config);
  auto tok_config = read_optional_json(dir / "tokenizer_config.json");
  if (!tok_config.ok()) return tok_config.status();
  m.tokenizer_config = std::move(*tok_config);
  std::error_code ec;
  if (std::filesystem::exists(dir / "tokenizer.json", ec)) m.tokenizer_json = (dir / "tokenizer.json").string();
  if (Status st = attach_safetensors(m, path, map); !st.ok()) return st;
  auto arch = architecture_from_hf_config(*m.hf_config);
  if (!arch.ok()) return Status::error(path + "/" + arch.message());
  m.arch = std::move(arch).value();
  if (Status st = adopt_deepseek_v4_weights(m, path); !st.ok()) return st;
  return m;
}

Result<ModelFiles> open_gguf(ModelFiles m, const std::string& path, const MapOptions& map) {
  auto g = GgufFile::open(path, map);
  if (!g.ok()) return g.status();
  auto shared = std::make_shared<const GgufFile>(std::move(g).value());
  m.format = ModelFiles::Format::kGguf;
  m.gguf = shared;
  m.weights = WeightSource::from_gguf(shared);
  if (shared->tensors().empty() && !shared->find("general.architecture")) {
    m.arch_error = "no weights (a vocabulary-only GGUF)";
    return m;
  }
  auto arch = architecture_from_gguf(*shared);
  if (!arch.ok()) {
    if (shared->tensors().empty()) {  // vocabulary-only files carry partial hyper-parameters
      m.arch_error = arch.message();
      return m;
    }
    return arch.status();
  }
  m.arch = std::move(arch).value();
  return m;
}

// A bare .safetensors file: runnable only with a config.json beside it.
Result<ModelFiles> open_safetensors_file(ModelFiles m, const std::string& path, const MapOptions& map) {
  if (Status st = attach_safetensors(m, path, map); !st.ok()) return st;
  m.arch_error = "a bare .safetensors file has no config.json beside it";
  auto config = read_optional_json(std::filesystem::path(path).parent_path() / "config.json");
  if (!config.ok()) return config.status();
  if (*config) {
    m.hf_config = std::move(**config);
    auto arch = architecture_from_hf_config(*m.hf_config);
    if (!arch.ok()) return arch.status();
    m.arch = std::move(arch).value();
    if (Status st = adopt_deepseek_v4_weights(m, path); !st.ok()) return st;
  }
  return m;
}

}  // namespace

Result<ModelFiles> open_model_files(const std::string& path, const MapOptions& map) {
  std::error_code ec;
  ModelFiles m;
  m.path = path;
  if (!std::filesystem::exists(path, ec)) return Status::error(path + ": no such file or directory");
  if (std::filesystem::is_directory(path, ec)) return open_hf_directory(std::move(m), path, map);
  if (has_gguf_magic(path)) return open_gguf(std::move(m), path, map);
  if (path.size() > 12 && path.substr(path.size() - 12) == ".safetensors") return open_safetensors_file(std::move(m), path, map);
  return Status::error(path + ": not a GGUF file (bad magic), a .safetensors file or a model directory");
}

}  // namespace dseek
