// DeepSeek-V4's KV compressor (docs/design/deepseek-v4.md §2.4): the cache of
// a CSA or HCA layer gains one compressed entry per `ratio` tokens, a gated
// per-channel pooling of the tokens' projections. DeepSeek's inference/model.py
// class Compressor, in the equations' words (x_s: the layer's normalised input):
//   A_s = wkv x_s,  Z_s = wgate x_s + ape[s mod m]            (both c·d wide, c = 2 if overlap)
//   HCA (m = 128): C_w[ch] = Σ_{s in window w} softmax_s(Z_s[ch]) A_s[ch]
//   CSA (m = 4, overlap): 2m slots per channel, the first d channels ("a" half) of
//     window w−1's tokens then the last d ("b" half) of window w's; window −1 is absent
//   C_w <- RMSNorm_norm(C_w); RoPE (adjacent pairs) on its trailing d_rope dims at
//     position w·m (the window's first token), with the layer's compressed rope table
//   (indexer keys only) C_w <- Hadamard(C_w) / sqrt(d)
// Entry w exists once token (w+1)·m − 1 is absorbed; query t sees entries w < ⌊(t+1)/m⌋.
//
// Incremental: a V4CompressedKv carries the open window's rows (and, with overlap,
// the last closed window's) across steps, so absorbing a sequence in any chunking
// — whole prefill, token by token, chunks of 3 — gives bit-identical entries.
// DeepSeek's QAT simulation (FP8 on the nope dims, FP4 on indexer keys) is not
// applied: entries stay f32 (see v4_indexer.h for what that changes).
//
// Interface for V4 attention (v4core): per layer and sequence one V4CompressedKv
// (CSA layers: two, the entries and the indexer keys); each step calls
// v4_compress with the step's normalised rows, then reads entry(w) for
// w < v4_visible_entries(pos, ratio).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/blocks/rope.h"
#include "model/step_arena.h"

namespace dseek {

struct V4CompressorWeights {
  int64_t ratio = 0;        // m: tokens per entry (4 CSA, 128 HCA)
  int64_t dim = 0;          // d: width of an entry (head_dim 512; the indexer's 128)
  int64_t d_rope = 0;       // trailing dims rotated (rope_head_dim)
  bool overlap = false;     // CSA: entries pool two windows (c = 2)
  bool hadamard = false;    // indexer keys: rotated after RoPE
  float eps = 1e-6f;        // compressor.norm's RMSNorm eps
  kernels::MatrixView wkv;  // [c·d x E]
  kernels::MatrixView wgate;
  const float* ape = nullptr;   // [m x c·d]: per position in the window, added to the gate
  const float* norm = nullptr;  // [d]
  int64_t width() const { return overlap ? 2 * dim : dim; }  // c·d
};

// Entries a query at position `pos` may read: those whose window has closed.
inline int64_t v4_visible_entries(int64_t pos, int64_t ratio) { return (pos + 1) / ratio; }

// One compressor's cache of one sequence: the append-only entry rows and the
// pooling state of the windows not yet emitted. f32 throughout.
class V4CompressedKv {
 public:
  explicit V4CompressedKv(const V4CompressorWeights& w);

  int64_t n_tokens() const { return n_tokens_; }
  int64_t n_entries() const { return static_cast<int64_t>(entries_.size()) / dim_; }
  int64_t dim() const { return dim_; }
  const float* entry(int64_t w) const { return entries_.data() + w * dim_; }
  // Growing bytes per token (an entry per `ratio` tokens) and the fixed state bytes.
  static double bytes_per_token(const V4CompressorWeights& w) { return 4.0 * static_cast<double>(w.dim) / static_cast<double>(w.ratio); }
  static int64_t state_bytes(const V4CompressorWeights& w);
  void clear();

  // Takes token row s's projections a = A_s, z = Z_s (ape not yet added);
  // appends entry w when s closes window w. Used by v4_compress.
  void absorb(const V4CompressorWeights& w, const RopeTable& rope, const float* a, const float* z);

 private:
  void emit(const V4CompressorWeights& w, const RopeTable& rope);

  int64_t dim_ = 0, n_tokens_ = 0;
  // rows [0, m): the last closed window (overlap only); rows [m, 2m) (or [0, m)): the open window.
  std::vector<float> kv_, score_;
  std::vector<float> entries_;
};

// Cache bytes a CSA or HCA layer adds to the sliding window's ring (f32 rows):
// per token, the entries (d/m) plus, for CSA, the indexer keys (d_I/4); fixed,
// the pooling state of both compressors. V4-Flash (d 512, d_I 128): CSA 640 B
// per token, HCA 16 B per token.
struct V4CompressedBytes {
  double per_token = 0;
  int64_t fixed = 0;
};
V4CompressedBytes v4_compressed_bytes(const V4CompressorWeights& entries, const V4CompressorWeights* index_keys);

// One sequence's share of a step: rows [first, first + n_tok) of the step's
// inputs are its next n_tok tokens (positions kv->n_tokens() onwards).
struct V4CompressSpan {
  V4CompressedKv* kv = nullptr;
  int64_t first = 0, n_tok = 0;
};

// Absorbs the step's tokens into each sequence's compressor. xn: the layer's
// normalised input rows [T x E]. The projections run for all T rows at once
// (each row's value independent of T), the pooling per sequence in token order.
void v4_compress(ThreadPool& pool, const V4CompressorWeights& w, const RopeTable& rope, const float* xn,
                 std::span<const V4CompressSpan> seqs, StepArena& arena);

}  // namespace dseek
