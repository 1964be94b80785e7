// See v4_compressed_attention.h: the per-sequence state and the extra keys.
#include "model/blocks/v4_compressed_attention.h"

#include <algorithm>

namespace dseek {
namespace {

V4CompressedCache& compressed_of(const CacheSpan& s) { return static_cast<V4CompressedCache&>(*s.cache->extension); }

// The extra keys of each row of the step: pointers to its sequence's entries,
// chosen in prepare() (after the indexer, which needs the query latent).
class EntryKeys final : public V4ExtraKeySource {
 public:
  EntryKeys(ThreadPool& pool, const V4CompressedLayer& c, const RopeTable& rope, const float* xn,
            std::span<const CacheSpan> seqs, int64_t layer)
      : pool_(pool), c_(c), rope_(rope), xn_(xn), seqs_(seqs), layer_(layer) {}

  void prepare(const float* q_lora, StepArena& arena) override {
    int64_t T = 0, most = 0;
    for (const CacheSpan& s : seqs_) {
      T = std::max(T, s.first + s.n_tok);
      most = std::max(most, v4_visible_entries(s.pos0 + s.n_tok - 1, c_.entries.ratio));
    }
    V4Selection sel;
    if (c_.sparse) {
      auto* spans = arena.take<V4IndexSpan>(static_cast<int64_t>(seqs_.size()));
      for (size_t i = 0; i < seqs_.size(); ++i)
        spans[i] = {&compressed_of(seqs_[i]).index_keys(layer_), seqs_[i].first, seqs_[i].n_tok};
      sel = v4_index(pool_, c_.index, rope_, xn_, q_lora, std::span<const V4IndexSpan>(spans, seqs_.size()), arena);
    }
    rows_ = arena.take<const float*>(std::max<int64_t>(T * most, 1));
    count_ = arena.take<int64_t>(T);
    for (const CacheSpan& s : seqs_) {
      const V4CompressedKv& kv = compressed_of(s).entries(layer_);
      for (int64_t i = 0; i < s.n_tok; ++i) {
        const int64_t t = s.first + i, visible = v4_visible_entries(s.pos0 + i, c_.entries.ratio);
        const float** out = rows_ + t * most;
        if (!c_.sparse || sel.dense(t)) {
          for (int64_t e = 0; e < visible; ++e) out[e] = kv.entry(e);
          count_[t] = visible;
        } else {
          const std::span<const int32_t> picked = sel.of(t);
          for (size_t j = 0; j < picked.size(); ++j) out[j] = kv.entry(picked[j]);
          count_[t] = static_cast<int64_t>(picked.size());
        }
      }
    }
    stride_ = most;
  }

  V4ExtraKeys keys(int64_t seq, int64_t row) const override {
    const int64_t t = seqs_[static_cast<size_t>(seq)].first + row;
    return {rows_ + t * stride_, count_[t]};
  }

 private:
  ThreadPool& pool_;
  const V4CompressedLayer& c_;
  const RopeTable& rope_;
  const float* xn_;
  std::span<const CacheSpan> seqs_;
  int64_t layer_;
  const float** rows_ = nullptr;
  int64_t* count_ = nullptr;
  int64_t stride_ = 0;
};

}  // namespace

V4CompressedCache::V4CompressedCache(std::span<const V4CompressedLayer* const> layers) : layers_(layers.size()) {
  for (size_t l = 0; l < layers.size(); ++l) {
    if (!layers[l]) continue;
    layers_[l].entries.emplace(layers[l]->entries);
    if (layers[l]->sparse) layers_[l].index_keys.emplace(layers[l]->index.keys);
  }
}

int64_t V4CompressedCache::n_tokens() const {
  for (const Layer& l : layers_)
    if (l.entries) return l.entries->n_tokens();
  return 0;
}

void V4CompressedCache::clear() {
  for (Layer& l : layers_) {
    if (l.entries) l.entries->clear();
    if (l.index_keys) l.index_keys->clear();
  }
}

V4CompressedBytes v4_layer_compressed_bytes(const V4CompressedLayer& c) {
  return v4_compressed_bytes(c.entries, c.sparse ? &c.index.keys : nullptr);
}

void v4_compressed_attention(ThreadPool& pool, const V4AttnDims& d, const V4AttnWeights& w, const V4CompressedLayer& c,
                             const RopeTable& rope, const float* xn, std::span<const CacheSpan> seqs, int64_t layer,
                             float* out, StepArena& arena) {
  const StepArena::Scope scope(arena);
  auto* spans = arena.take<V4CompressSpan>(static_cast<int64_t>(seqs.size()));
  for (size_t i = 0; i < seqs.size(); ++i) spans[i] = {&compressed_of(seqs[i]).entries(layer), seqs[i].first, seqs[i].n_tok};
  v4_compress(pool, c.entries, rope, xn, std::span<const V4CompressSpan>(spans, seqs.size()), arena);
  EntryKeys keys(pool, c, rope, xn, seqs, layer);
  v4_attention_forward(pool, d, w, rope, xn, seqs, layer, out, arena, &keys);
}

}  // namespace dseek
