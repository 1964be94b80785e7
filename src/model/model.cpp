// See model.h: the input checks and batch layout every architecture's forward
// shares, the one-sequence-at-a-time forward_batch fallback, and load_model.
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
