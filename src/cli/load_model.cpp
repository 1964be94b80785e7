// See load_model.h.
#include "cli/load_model.h"

#include "model/lora_adapter.h"

namespace dseek::cli {

Result<std::shared_ptr<const ModelFiles>> open_with_adapters(const std::string& path, const MapOptions& map,
                                                             const std::vector<std::string>& loras,
                                                             KvCacheType cache_type,
                                                             std::shared_ptr<const ExpertExecutor> experts) {
  // The other ranks of an --ep job run their experts without adapters.
  if (experts && !loras.empty()) return Status::error("--lora cannot be combined with --ep yet (merge it: dseek merge-lora)");
  auto files = open_model_files(path, map);
  if (!files.ok()) return files.status();
  files->cache_type = cache_type;
  files->experts = std::move(experts);
  if (!loras.empty()) {
    const std::string arch = files->gguf ? files->gguf->get_string("general.architecture").value_or("") : "";
    auto adapters = LoraAdapters::load(loras, files->weights, arch);
    if (!adapters.ok()) return adapters.status();
    files->adapters = std::move(adapters).value();
  }
  return std::make_shared<const ModelFiles>(std::move(files).value());
}

Result<LoadedModel> load_model_files(const std::string& path, bool with_tokenizer, const MapOptions& map,
                                     const std::vector<std::string>& loras, KvCacheType cache_type,
                                     const EpOptions& ep) {
  auto ep_start = EpStart::begin(ep);
  if (!ep_start.ok()) return ep_start.status();
  auto files = open_with_adapters(path, map, loras, cache_type, ep_start->executor());
  if (!files.ok()) return files.status();
  LoadedModel out;
  out.files = std::move(files).value();
  if (with_tokenizer) {
    auto tok = out.files->gguf ? Tokenizer::from_gguf(*out.files->gguf) : Tokenizer::load(path);
    if (!tok.ok()) return Status::error(path + ": no usable tokenizer: " + tok.message());
    out.tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
  }
  auto model = load_model(out.files);
  if (!model.ok()) return model.status();
  if (Status st = ep_start->finish(*out.files, **model); !st.ok()) return st;
  out.model = std::move(model).value();
  return out;
}

}  // namespace dseek::cli
