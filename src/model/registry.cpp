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
  if (*arch == "deepseek2") return deepseek_from_gguf(f);
  if (*arch == "llama") return llama_from_gguf(f, false);
  if (*arch == "qwen2") return llama_from_gguf(f, true);
  return Status::error(f.path() + ": architecture '" + *arch + "' is not supported (deepseek2, llama, qwen2 are)");
}

Result<std::unique_ptr<Architecture>> architecture_from_hf_config(const nlohmann::json& c) {
  if (!c.is_object() || !c.contains("model_type") || !c["model_type"].is_string())
    return Status::error("config.json: no model_type string");
  const std::string type = c["model_type"].get<std::string>();
  if (type == "deepseek_v3" || type == "deepseek_v2" || type == "deepseek_v32") return deepseek_from_hf_config(c);
  if (type == "llama") return llama_from_hf_config(c, false);
  if (type == "qwen2") return llama_from_hf_config(c, true);
  return Status::error("config.json: model_type '" + type + "' is not supported (deepseek_v2, deepseek_v3, llama, qwen2 are)");
}

std::vector<std::string_view> architecture_names() { return {"deepseek-v3", "deepseek-v2", "llama", "qwen2"}; }

Result<std::unique_ptr<Architecture>> architecture_preset(std::string_view arch, std::string_view preset,
                                                           int64_t vocab_size, int64_t n_mtp) {
  if (arch == "deepseek-v3" || arch == "deepseek-v2") return deepseek_preset(arch, preset, vocab_size, n_mtp);
  if (n_mtp > 0) return Status::error("--mtp: only DeepSeek architectures have multi-token-prediction layers");
  if (arch == "llama") return llama_preset(preset, vocab_size, false);
  if (arch == "qwen2") return llama_preset(preset, vocab_size, true);
  return Status::error("unknown architecture '" + std::string(arch) + "' (deepseek-v3, deepseek-v2, llama, qwen2)");
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

#include "model/model.h"

namespace dseek {

Status check_forward_input(std::span<const int32_t> tokens, const KvCache& cache, int64_t n_vocab) {
  if (tokens.empty()) return Status::error("forward: no tokens");
  if (cache.n_past + static_cast<int64_t>(tokens.size()) > cache.n_ctx())
    return Status::error("context full: " + std::to_string(cache.n_past) + " cached + " + std::to_string(tokens.size()) +
                         " new tokens exceed the context of " + std::to_string(cache.n_ctx()));
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab)
      return Status::error("token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
  return ok_status();
}

Result<BatchLayout> layout_batch(std::span<const SeqBatch> batch, int64_t n_vocab) {
  BatchLayout out;
  for (const SeqBatch& b : batch) {
    if (!b.cache) return Status::error("forward_batch: a sequence has no cache");
    if (Status st = check_forward_input(b.tokens, *b.cache, n_vocab); !st.ok()) return st;
    for (const CacheSpan& other : out.seqs)
      if (other.cache == b.cache) return Status::error("forward_batch: a cache appears twice in one batch");
    out.seqs.push_back({static_cast<int64_t>(out.tokens.size()), static_cast<int64_t>(b.tokens.size()), b.cache->n_past, b.cache});
    out.tokens.insert(out.tokens.end(), b.tokens.begin(), b.tokens.end());
  }
  return out;
}

std::vector<float> wanted_last_rows(std::span<const SeqBatch> batch, std::span<const CacheSpan> seqs, const float* x,
                                    int64_t n_embd) {
  std::vector<float> rows;
  for (size_t i = 0; i < batch.size(); ++i)
    if (batch[i].want_logits) {
      const float* row = x + (seqs[i].first + seqs[i].n_tok - 1) * n_embd;
      rows.insert(rows.end(), row, row + n_embd);
    }
  return rows;
}

void advance_caches(std::span<const SeqBatch> batch) {
  for (const SeqBatch& b : batch) b.cache->n_past += static_cast<int64_t>(b.tokens.size());
}

Status Model::forward_batch(std::span<const SeqBatch> seqs, ThreadPool& pool, const ForwardOptions& opt,
                            float* logits) const {
  ForwardOptions one = opt;
  one.all_logits = false;
  std::vector<float> scratch;
  for (const SeqBatch& s : seqs) {
    if (!s.cache) return Status::error("forward_batch: a sequence has no cache");
    float* out = logits;
    if (!s.want_logits) {
      scratch.resize(static_cast<size_t>(n_vocab()));
      out = scratch.data();
    }
    if (Status st = forward(s.tokens, *s.cache, pool, one, out); !st.ok()) return st;
    if (s.want_logits) logits += n_vocab();
  }
  return ok_status();
}

Result<std::shared_ptr<const Model>> load_model(std::shared_ptr<const ModelFiles> files) {
  if (!files->arch) return Status::error(files->path + ": cannot run: " + files->arch_error);
  auto m = files->arch->create_model(files);
  if (!m.ok()) return m.status();
  return std::shared_ptr<const Model>(std::move(m).value());
}

}  // namespace dseek
