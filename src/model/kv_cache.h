// A sequence's attention cache as a page table. Storage is a run of fixed-size
// pages, each holding `page_tokens` positions for every layer
// ([n_layer][page_tokens][width] floats). A sequence lists the pages it uses in
// position order, so two sequences can share the pages of a common prefix
// (the server's prefix cache) and pages return to a pool when a request ends.
//
// Row layout (MLA: the normalised latent then the rotated shared rope key;
// GQA: K then V) is the model's business; the cache only hands out rows.
//
// Two ways to get one: a self-owned cache (CLI, tests, MTP) with a single page
// covering the whole context, or a view over a runtime-owned page pool.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace dseek {

class KvCache;

// State a model keeps per sequence besides the position rows (DeepSeek-V4's
// compressed entries and open pooling windows), created by the model
// (Model::new_cache_extension) and owned by the sequence's KvCache. It grows
// only through the forward pass and cannot be rewound except to empty: the
// model refuses a step whose position is not n_tokens() (or 0, which clears
// it), and the runtime turns prefix reuse and speculative decoding off for a
// model whose caches carry one (docs/architecture.md, "Cache extensions").
class CacheExtension {
 public:
  virtual ~CacheExtension() = default;
  virtual int64_t n_tokens() const = 0;  // positions absorbed
  virtual void clear() = 0;              // back to no positions
};

// One sequence's share of a batched step: rows [first, first + n_tok) of the
// step's activations, at positions pos0.. of its own cache.
struct CacheSpan {
  int64_t first = 0, n_tok = 0, pos0 = 0;
  KvCache* cache = nullptr;
};

class KvCache {
 public:
  // Self-owned: one page of n_ctx positions.
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t width)
      : n_layer_(n_layer), width_(width), page_tokens_(n_ctx > 0 ? n_ctx : 1),
        owned_(std::make_unique<std::vector<float>>(static_cast<size_t>(n_layer * page_tokens_ * width), 0.0f)),
        base_(owned_->data()), pages_{0} {}

  // A view over pool storage (base = page 0); the caller manages `pages()`.
  KvCache(float* base, int64_t n_layer, int64_t width, int64_t page_tokens)
      : n_layer_(n_layer), width_(width), page_tokens_(page_tokens), base_(base) {}

  KvCache(KvCache&&) noexcept = default;
  KvCache& operator=(KvCache&&) noexcept = default;
  KvCache(const KvCache&) = delete;  // a copy would alias or duplicate gigabytes; say which you mean
  KvCache& operator=(const KvCache&) = delete;

  float* row(int64_t layer, int64_t pos) {
    const int64_t page = pages_[static_cast<size_t>(pos / page_tokens_)];
    return base_ + ((page * n_layer_ + layer) * page_tokens_ + pos % page_tokens_) * width_;
  }
  const float* row(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->row(layer, pos); }

  // Positions the current pages can hold.
  int64_t n_ctx() const { return static_cast<int64_t>(pages_.size()) * page_tokens_; }
  int64_t width() const { return width_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t page_tokens() const { return page_tokens_; }
  // Floats in one page: n_layer * page_tokens * width.
  int64_t page_floats() const { return n_layer_ * page_tokens_ * width_; }
  std::vector<int32_t>& pages() { return pages_; }
  const std::vector<int32_t>& pages() const { return pages_; }

  int64_t n_past = 0;  // positions already filled
  std::unique_ptr<CacheExtension> extension;  // null for most models (see CacheExtension)

 private:
  int64_t n_layer_, width_, page_tokens_;
  std::unique_ptr<std::vector<float>> owned_;  // self-owned storage (null for a pool view); stable across moves
  float* base_;
  std::vector<int32_t> pages_;
};

}  // namespace dseek
