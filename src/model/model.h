// The runnable model interface: what the runtime sees. A Model is immutable
// after loading and shared read-only across threads and requests; all
// per-sequence state lives in the KvCache the caller owns. A model knows
// nothing of HTTP, scheduling or sampling: it gets token ids and a cache and
// fills logits.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/arch.h"
#include "model/model_files.h"

namespace dseek {

// MLA attention has two exact forms (DeepSeek-V2 §2.1.2): naive decompresses
// per-head K/V from the cached latent; absorbed folds W_UK into the query and
// W_UV after attention. Both read the same cache. Dense models ignore this.
enum class AttentionMode { kAuto, kNaive, kAbsorbed };

struct ForwardOptions {
  AttentionMode mode = AttentionMode::kAuto;
  bool all_logits = true;  // logits for every position ([T x V]) or only the last ([V])
};

// Per-sequence cache: per layer, n_ctx rows of `width` floats (MLA: the
// normalised latent + the rotated shared rope key; GQA: K then V).
class KvCache {
 public:
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t width)
      : n_ctx_(n_ctx), width_(width), data_(static_cast<size_t>(n_layer * n_ctx * width), 0.0f) {}
  float* row(int64_t layer, int64_t pos) { return data_.data() + (layer * n_ctx_ + pos) * width_; }
  const float* row(int64_t layer, int64_t pos) const { return data_.data() + (layer * n_ctx_ + pos) * width_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t width() const { return width_; }
  int64_t n_past = 0;  // positions already filled

 private:
  int64_t n_ctx_, width_;
  std::vector<float> data_;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const Architecture& arch() const = 0;
  virtual int64_t n_vocab() const = 0;
  virtual int64_t n_ctx() const = 0;  // trained context length
  virtual KvCache new_cache(int64_t n_ctx) const = 0;
  // Runs `tokens` at positions cache.n_past.., appends them to the cache and
  // writes logits to `logits` ([T x V] if opt.all_logits, else [V] for the last token).
  virtual Status forward(std::span<const int32_t> tokens, KvCache& cache, ThreadPool& pool, const ForwardOptions& opt,
                         float* logits) const = 0;
  // Multi-token prediction (DeepSeek-V3): draft logits for t_{i+2} from the trunk
  // hidden state h_i and token t_{i+1}. Models without MTP return an error.
  virtual Status forward_mtp(std::span<const int32_t> tokens, ThreadPool& pool, float* logits) const {
    return Status::error("this model has no multi-token-prediction layer");
  }
};

// The checks every forward() makes before touching weights: tokens present,
// ids inside the vocabulary, room in the cache. The message says what is wrong.
Status check_forward_input(std::span<const int32_t> tokens, const KvCache& cache, int64_t n_vocab);

// Loads the runnable model for files opened by open_model_files (which it keeps alive).
Result<std::shared_ptr<const Model>> load_model(std::shared_ptr<const ModelFiles> files);

}  // namespace dseek
