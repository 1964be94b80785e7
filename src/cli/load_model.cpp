// See load_model.h.
#include "cli/load_model.h"

namespace dseek::cli {

Result<LoadedModel> load_model_files(const std::string& path, bool with_tokenizer, const MapOptions& map) {
  auto files = open_model_files(path, map);
  if (!files.ok()) return files.status();
  LoadedModel out;
  out.files = std::make_shared<const ModelFiles>(std::move(files).value());
  if (with_tokenizer) {
    auto tok = out.files->gguf ? Tokenizer::from_gguf(*out.files->gguf) : Tokenizer::load(path);
    if (!tok.ok()) return Status::error(path + ": no usable tokenizer: " + tok.message());
    out.tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
  }
  auto model = load_model(out.files);
  if (!model.ok()) return model.status();
  out.model = std::move(model).value();
  return out;
}

}  // namespace dseek::cli
