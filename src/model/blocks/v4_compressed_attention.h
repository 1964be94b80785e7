// DeepSeek-V4's compressed attention layers (docs/design/deepseek-v4.md §2.3-2.5):
// a CSA or HCA layer is the sliding-window attention of v4_attention.h plus
// compressed entries as extra keys. Each step first absorbs its tokens into
// the sequence's compressor (v4_compressor.h), then every row attends to its
// window and to
//   HCA: every visible entry (w < ⌊(pos+1)/m⌋),
//   CSA: the lightning indexer's top-k of the visible entries (v4_indexer.h;
//        all of them while there are at most top-k).
// Window keys first, then entries in ascending order.
//
// The compressed state of a sequence (entries, indexer keys, the open pooling
// windows) is V4CompressedCache, a KvCache extension: it only grows with the
// forward pass and cannot be rewound except to empty (see kv_cache.h).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "model/blocks/v4_attention.h"
#include "model/blocks/v4_compressor.h"
#include "model/blocks/v4_indexer.h"
#include "model/kv_cache.h"

namespace dseek {

// A CSA or HCA layer's compressor and, for CSA, its indexer.
struct V4CompressedLayer {
  V4CompressorWeights entries;  // ratio 4 with overlap (CSA) or the HCA ratio; dim = head_dim
  bool sparse = false;          // CSA: the indexer picks the entries
  V4IndexerWeights index;       // CSA only
};

// One sequence's compressed state for every layer (nothing for sliding layers).
class V4CompressedCache final : public CacheExtension {
 public:
  // layers[l]: layer l's compressor, or null for a sliding layer.
  explicit V4CompressedCache(std::span<const V4CompressedLayer* const> layers);

  int64_t n_tokens() const override;
  void clear() override;
  V4CompressedKv& entries(int64_t layer) { return *layers_[static_cast<size_t>(layer)].entries; }
  V4CompressedKv& index_keys(int64_t layer) { return *layers_[static_cast<size_t>(layer)].index_keys; }

 private:
  struct Layer {
    std::optional<V4CompressedKv> entries, index_keys;
  };
  std::vector<Layer> layers_;
};

// Cache bytes per token and fixed bytes one compressed layer adds to its window.
V4CompressedBytes v4_layer_compressed_bytes(const V4CompressedLayer& c);

// xn [T x E] (attention-normed) -> out [T x E] for a CSA / HCA layer. Every
// sequence's cache must carry a V4CompressedCache at n_tokens() == pos0.
void v4_compressed_attention(ThreadPool& pool, const V4AttnDims& d, const V4AttnWeights& w, const V4CompressedLayer& c,
                             const RopeTable& rope, const float* xn, std::span<const CacheSpan> seqs, int64_t layer,
                             float* out, StepArena& arena);

}  // namespace dseek
