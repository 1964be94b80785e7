// The decoder skeleton every architecture shares: token embedding -> the
// architecture's layers -> final RMSNorm -> output head, over a batch of
// sequences in one step. An architecture derives from Decoder, binds the
// trunk weights and supplies run_layer(); forward and forward_batch are
// written once, here.
#pragma once

#include <memory>
#include <span>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/step_arena.h"

namespace dseek {

// What a layer gets besides its activations: the step's sequences (rows of x
// and their caches), the attention mode, the pool and the activation arena.
struct LayerStep {
  ThreadPool& pool;
  std::span<const CacheSpan> seqs;
  int64_t n_tok = 0;  // rows of x: all sequences' tokens
  AttentionMode mode = AttentionMode::kAuto;
  StepArena& arena;
  std::span<const int32_t> tokens = {};  // the rows' token ids (hash-routed MoE layers read them)
};

// The weights around the layers.
struct TrunkWeights {
  kernels::MatrixView embd, head;  // [V x E] each (the same matrix when tied)
  const float* out_norm = nullptr;
  int64_t n_embd = 0, n_vocab = 0, n_layer = 0;
  // Parallel residual streams per token (DeepSeek-V4's hyper-connections:
  // hc_mult); the residual row is n_streams x n_embd, each stream starting as
  // the embedding. 1 for every other architecture.
  int64_t n_streams = 1;
  float eps = 1e-6f;
};

class Decoder : public Model {
 public:
  int64_t n_vocab() const final { return trunk_.n_vocab; }
  int64_t n_embd() const final { return trunk_.n_embd; }
  Status forward_batch(std::span<const SeqBatch> seqs, ThreadPool& pool, const ForwardOptions& opt,
                       float* logits) const final;

 protected:
  // Layer `layer` in place over x [n_tok x n_streams*E] (the residual stream).
  virtual void run_layer(int64_t layer, float* x, const LayerStep& step) const = 0;
  // After the last layer: x [T x n_streams*E] -> the normalised final hidden
  // states packed as [T x E]. The default (one stream) is the output RMSNorm.
  virtual void finish_trunk(float* x, const LayerStep& step) const;

  // Before a step: whether each sequence's cache can take its tokens at pos0
  // (a model with a CacheExtension checks it is at pos0, or clears it at 0).
  virtual Status check_caches(std::span<const CacheSpan>) const { return ok_status(); }

  void embed_row(int32_t token, float* out) const;
  // Embedding + all layers + output norm: x [T x E] = normalised final hidden
  // states (x holds T x n_streams*E floats while the layers run).
  // `streams`, if set, gets x [T x n_streams*E] before finish_trunk.
  void run_trunk(std::span<const int32_t> tokens, const LayerStep& step, float* x, float* streams = nullptr) const;
  // Whether ForwardOptions::hidden gets the streams before finish_trunk (V4's
  // MTP reads them) rather than the normalised final hidden states.
  virtual bool hidden_is_streams() const { return false; }

  TrunkWeights trunk_;
};

// Constructs an architecture's Decoder and binds its weights (M::bind()).
template <class M, class H>
Result<std::unique_ptr<Model>> make_bound_model(const H& hparams, std::shared_ptr<const ModelFiles> files) {
  auto m = std::make_unique<M>(hparams, std::move(files));
  if (Status st = m->bind(); !st.ok()) return st;
  return std::unique_ptr<Model>(std::move(m));
}

// x[i] += y[i] for n values (a residual connection).
inline void add_residual(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace dseek
