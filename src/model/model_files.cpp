// See model_files.h.
#include "model/model_files.h"

#include <filesystem>
#include <fstream>

#include "format/json_file.h"

namespace dseek {
namespace {

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char m[4] = {};
  return in.read(m, 4) && std::string_view(m, 4) == "GGUF";
}

}  // namespace

Result<ModelFiles> open_model_files(const std::string& path, const MapOptions& map) {
  namespace fs = std::filesystem;
  std::error_code ec;
  ModelFiles m;
  m.path = path;
  if (!fs::exists(path, ec)) return Status::error(path + ": no such file or directory");
  if (fs::is_directory(path, ec)) {
    const fs::path dir = path;
    m.format = ModelFiles::Format::kSafetensors;
    if (fs::exists(dir / "config.json", ec)) {
      auto c = read_json_file((dir / "config.json").string());
      if (!c.ok()) return c.status();
      m.hf_config = std::move(c).value();
    } else {
      return Status::error(path + ": no config.json here: not a Hugging Face model directory");
    }
    if (fs::exists(dir / "tokenizer_config.json", ec)) {
      auto c = read_json_file((dir / "tokenizer_config.json").string());
      if (!c.ok()) return c.status();
      m.tokenizer_config = std::move(c).value();
    }
    if (fs::exists(dir / "tokenizer.json", ec)) m.tokenizer_json = (dir / "tokenizer.json").string();
    auto st = Safetensors::open(path, map);
    if (!st.ok()) return st.status();
    auto shared = std::make_shared<const Safetensors>(std::move(st).value());
    m.safetensors = shared;
    m.weights = WeightSource::from_safetensors(shared);
    auto arch = architecture_from_hf_config(*m.hf_config);
    if (!arch.ok()) return Status::error(path + "/" + arch.message());
    m.arch = std::move(arch).value();
    return m;
  }
  if (has_gguf_magic(path)) {
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
  if (path.size() > 12 && path.substr(path.size() - 12) == ".safetensors") {
    auto st = Safetensors::open(path, map);
    if (!st.ok()) return st.status();
    auto shared = std::make_shared<const Safetensors>(std::move(st).value());
    m.format = ModelFiles::Format::kSafetensors;
    m.safetensors = shared;
    m.weights = WeightSource::from_safetensors(shared);
    m.arch_error = "a bare .safetensors file has no config.json beside it";
    const fs::path cfg = fs::path(path).parent_path() / "config.json";
    if (fs::exists(cfg, ec)) {
      auto c = read_json_file(cfg.string());
      if (!c.ok()) return c.status();
      m.hf_config = std::move(c).value();
      auto arch = architecture_from_hf_config(*m.hf_config);
      if (!arch.ok()) return arch.status();
      m.arch = std::move(arch).value();
    }
    return m;
  }
  return Status::error(path + ": not a GGUF file (bad magic), a .safetensors file or a model directory");
}

}  // namespace dseek
