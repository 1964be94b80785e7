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
#include "model/kv_cache.h"
#include "model/model_files.h"

namespace dseek {

// MLA attention has two exact forms (DeepSeek-V2 §2.1.2): naive decompresses
// per-head K/V from the cached latent; absorbed folds W_UK into the query and
// W_UV after attention. Both read the same cache. Dense models ignore this.
enum class AttentionMode { kAuto, kNaive, kAbsorbed };

class StepArena;
class LinearObserver;
struct MoeWeights;

struct ForwardOptions {
  AttentionMode mode = AttentionMode::kAuto;
  bool all_logits = true;  // forward(): logits for every position ([T x V]) or only the last ([V])
  // Activation memory to reuse across calls (a serving loop's); null: the call makes its own.
  StepArena* arena = nullptr;
  // If set: every new token's hidden state as the MTP module reads it,
  // [T x Model::mtp_hidden_width()] for all T tokens of the step (DeepSeek-V3:
  // after the output norm; V4: the hc_mult residual streams before the head).
  float* hidden = nullptr;
  // If set: sees the input of every linear layer of the step (weight view,
  // [n_tok x cols] activations), routed experts with their own rows; see
  // model/blocks/linear.h. `dseek imatrix` sums activation energy with it.
  LinearObserver* observer = nullptr;
};

// One sequence's share of a batched step: its new tokens, its cache, and
// which logits it wants: none (a prefill chunk that does not end the prompt),
// its last token's ([V], the default) or every token's ([n_tok x V]).
struct SeqBatch {
  std::span<const int32_t> tokens;
  KvCache* cache = nullptr;
  bool want_logits = true;
  bool all_rows = false;  // with want_logits: every token's logits, not only the last
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const Architecture& arch() const = 0;
  virtual int64_t n_vocab() const = 0;
  virtual int64_t n_ctx() const = 0;  // trained context length
  virtual KvCache new_cache(int64_t n_ctx) const = 0;
  // Per-sequence state beyond the rows (kv_cache.h), for caches the runtime
  // builds over its page pool; null when the model keeps none. new_cache()
  // attaches it itself.
  virtual std::unique_ptr<CacheExtension> new_cache_extension() const { return nullptr; }
  // Runs `tokens` at positions cache.n_past.., appends them to the cache and
  // writes logits to `logits` ([T x V] if opt.all_logits, else [V] for the last token).
  // One sequence's forward_batch.
  Status forward(std::span<const int32_t> tokens, KvCache& cache, ThreadPool& pool, const ForwardOptions& opt,
                 float* logits) const {
    const SeqBatch one{tokens, &cache, true, opt.all_logits};
    return forward_batch(std::span<const SeqBatch>(&one, 1), pool, opt, logits);
  }
  // Several sequences in one step (continuous batching): weights are read once
  // for all their tokens, attention runs per sequence over its own cache.
  // Writes each sequence's wanted logit rows (see SeqBatch), in order. Each
  // sequence's logits are bit-identical to running it alone (batch-invariant
  // kernels; kAuto means absorbed MLA, whose result does not depend on how a
  // prompt is chunked).
  virtual Status forward_batch(std::span<const SeqBatch> seqs, ThreadPool& pool, const ForwardOptions& opt,
                               float* logits) const = 0;
  // Multi-token prediction (DeepSeek-V3): draft logits for t_{i+2} from the trunk
  // hidden state h_i and token t_{i+1}. Models without MTP return an error.
  virtual Status forward_mtp(std::span<const int32_t> tokens, ThreadPool& pool, float* logits) const {
    return Status::error("this model has no multi-token-prediction layer");
  }
  virtual int64_t n_embd() const { return 0; }
  // Each trunk layer's routed-expert weights (null for a dense layer); empty for
  // models without DeepSeekMoE. Expert parallelism (src/dist) places and runs them.
  virtual std::vector<const MoeWeights*> moe_layers() const { return {}; }

  // Incremental MTP (speculative drafting). The MTP layer gets a cache of its
  // own: its position i holds (hidden_i, token_{i+1}), one behind the trunk's.
  virtual bool has_mtp() const { return false; }
  // Floats per row of ForwardOptions::hidden and of forward_mtp_step's hidden / hidden_out.
  virtual int64_t mtp_hidden_width() const { return n_embd(); }
  virtual KvCache new_mtp_cache(int64_t n_ctx) const { return KvCache(1, 1, 1); }
  // Runs the MTP module over rows i = 0..n-1 of `hidden` ([n x W], W = mtp_hidden_width(): the trunk's
  // final hidden state at a position, or the module's own output when chaining)
  // with `next[i]` (the token after that position), at mtp_cache.n_past..,
  // appending to the cache. Writes the last row's draft logits [V] and, when
  // hidden_out is set, the last row's output hidden state [W] (the next link's
  // input). Row by row or in chunks, the logits are those of forward_mtp().
  virtual Status forward_mtp_step(const float* hidden, std::span<const int32_t> next, KvCache& mtp_cache,
                                  ThreadPool& pool, float* logits, float* hidden_out) const {
    return Status::error("this model has no multi-token-prediction layer");
  }
};

// The checks every forward() makes before touching weights: tokens present,
// ids inside the vocabulary, room in the cache. The message says what is wrong.
Status check_forward_input(std::span<const int32_t> tokens, const KvCache& cache, int64_t n_vocab);

// A batched step laid out for an architecture's forward_batch: every
// sequence checked as forward() checks it, its tokens appended in order, its
// rows and cache recorded.
struct BatchLayout {
  std::vector<int32_t> tokens;
  std::vector<CacheSpan> seqs;
};
Result<BatchLayout> layout_batch(std::span<const SeqBatch> batch, int64_t n_vocab);
// After a step: each sequence's cache n_past advanced past its new tokens.
void advance_caches(std::span<const SeqBatch> batch);

// Loads the runnable model for files opened by open_model_files (which it keeps alive).
Result<std::shared_ptr<const Model>> load_model(std::shared_ptr<const ModelFiles> files);

}  // namespace dseek
