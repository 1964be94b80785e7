// Float64 reference of DeepSeek-V4's KV compressor and CSA lightning indexer
// (docs/design/deepseek-v4.md §2.4–2.5), written from the equations with plain
// loops. No incremental state: every entry a query at position t may see is
// recomputed from the raw input rows 0..t, so it checks src/model/blocks/
// v4_compressor's carried windows independently. Shares no code with src/model.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/ref_weights.h"

namespace dseek::reference {

using Mat = std::vector<Vec>;  // rows

struct V4CompressorRef {
  int64_t ratio = 0, dim = 0, d_rope = 0;
  bool overlap = false, hadamard = false;
  double eps = 1e-6;
  Mat wkv, wgate;  // [c·d][E]
  Mat ape;         // [m][c·d]
  Vec norm;        // [d]
  Vec freqs;       // RoPE angle per position of each of the d_rope/2 pairs
};

// The entries visible at position t (w < ⌊(t+1)/m⌋), each from x[0..t] alone.
Mat v4_entries_ref(const V4CompressorRef& c, const Mat& x, int64_t t);

struct V4IndexerRef {
  int64_t n_head = 0, head_dim = 0, d_rope = 0, topk = 0;
  Mat wq_b;  // [n_head·head_dim][q_lora]
  Mat proj;  // [n_head][E]
  V4CompressorRef keys;
};

// score(t, w) for every visible entry w of the query at position t.
Vec v4_index_scores_ref(const V4IndexerRef& ix, const Mat& x, const Mat& q_lora, int64_t t);
// The entries the query at t attends to, ascending: all visible ones when
// they are at most topk, else the topk best scores (ties: the earlier entry).
std::vector<int32_t> v4_selected_ref(const V4IndexerRef& ix, const Mat& x, const Mat& q_lora, int64_t t);

}  // namespace dseek::reference
