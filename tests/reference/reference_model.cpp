// The reference's public entry points: open the GGUF file, pick the
// architecture from `general.architecture`, run its float64 forward.
// No arithmetic here; see deepseek_ref.cpp and llama_ref.cpp.
#include "reference/reference_model.h"

#include "reference/ref_weights.h"

namespace dseek::reference {
namespace {

Result<std::string> architecture_of(const std::string& path, Result<GgufFile>& f) {
  f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  auto arch = f->get_string("general.architecture");
  if (!arch) return Status::error(path + ": no general.architecture key (not a model file)");
  if (*arch != "deepseek2" && *arch != "deepseek32" && *arch != "llama" && *arch != "qwen2")
    return Status::error(path + ": the reference has no forward for architecture '" + *arch +
                         "' (deepseek2, deepseek32, llama, qwen2)");
  return *arch;
}

}  // namespace

Result<std::vector<double>> forward_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens,
                                           const RefOptions& options) {
  Result<GgufFile> f = Status::error("not opened");
  auto arch = architecture_of(gguf_path, f);
  if (!arch.ok()) return arch.status();
  WeightReader r(std::move(f).value(), *arch + ".");
  if (*arch == "deepseek2" || *arch == "deepseek32") return deepseek_forward_logits(r, tokens, options);
  return llama_forward_logits(r, tokens, *arch == "qwen2");
}

Result<std::vector<double>> mtp_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens,
                                       const RefOptions& options) {
  Result<GgufFile> f = Status::error("not opened");
  auto arch = architecture_of(gguf_path, f);
  if (!arch.ok()) return arch.status();
  if (*arch != "deepseek2" && *arch != "deepseek32")
    return Status::error(gguf_path + ": MTP needs a deepseek2 or deepseek32 model, this is '" + *arch + "'");
  WeightReader r(std::move(f).value(), *arch + ".");
  return deepseek_mtp_logits(r, tokens, options);
}

Result<std::vector<double>> forward_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens) {
  return forward_logits(gguf_path, tokens, RefOptions{});
}

Result<std::vector<double>> mtp_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens) {
  return mtp_logits(gguf_path, tokens, RefOptions{});
}

}  // namespace dseek::reference
