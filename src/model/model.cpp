// See model.h: the input checks and batch layout every architecture's forward
// shares, and load_model.
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

void advance_caches(std::span<const SeqBatch> batch) {
  for (const SeqBatch& b : batch) b.cache->n_past += static_cast<int64_t>(b.tokens.size());
}

Result<std::shared_ptr<const Model>> load_model(std::shared_ptr<const ModelFiles> files) {
  if (!files->arch) return Status::error(files->path + ": cannot run: " + files->arch_error);
  auto m = files->arch->create_model(files);
  if (!m.ok()) return m.status();
  return std::shared_ptr<const Model>(std::move(m).value());
}

}  // namespace dseek
