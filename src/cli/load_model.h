// What run, serve and kld all start with: open a model path (GGUF file or
// Hugging Face directory), read its tokenizer and bind the runnable model.
// Errors name the path and what is wrong.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/ep_options.h"
#include "core/status.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace dseek::cli {

struct LoadedModel {
  std::shared_ptr<const ModelFiles> files;
  std::shared_ptr<const Model> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null when not asked for
};

// loras: --lora FILE[:SCALE] arguments, applied at run time without merging;
// cache_type: --cache-type, how MLA models store their latent cache;
// ep: --ep and its options (experts spread over the MPI job's processes).
Result<LoadedModel> load_model_files(const std::string& path, bool with_tokenizer, const MapOptions& map = {},
                                     const std::vector<std::string>& loras = {},
                                     KvCacheType cache_type = KvCacheType::kF32, const EpOptions& ep = {});
// Opens the model's files with the adapters attached (what load_model then
// binds); experts: where its routed experts run (EpStart::executor(), null: here).
Result<std::shared_ptr<const ModelFiles>> open_with_adapters(const std::string& path, const MapOptions& map,
                                                             const std::vector<std::string>& loras,
                                                             KvCacheType cache_type = KvCacheType::kF32,
                                                             std::shared_ptr<const ExpertExecutor> experts = nullptr);

}  // namespace dseek::cli
