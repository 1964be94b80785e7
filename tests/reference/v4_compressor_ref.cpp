// See v4_compressor_ref.h.
#include "reference/v4_compressor_ref.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "reference/ref_math.h"

namespace dseek::reference {
namespace {

double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

Vec project(const Mat& w, const Vec& x) {
  Vec y(w.size());
  for (size_t o = 0; o < w.size(); ++o) y[o] = dot(w[o], x);
  return y;
}

// y = H x / sqrt(n), H[i][j] = (−1)^popcount(i & j) (Sylvester), as a dense product.
Vec hadamard(const Vec& x) {
  const size_t n = x.size();
  Vec y(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) y[i] += (std::popcount(i & j) % 2 ? -1.0 : 1.0) * x[j];
  for (double& v : y) v /= std::sqrt(static_cast<double>(n));
  return y;
}

// Adjacent pairs on the trailing d_rope values of v, at position pos.
void rope_tail(Vec& v, int64_t d_rope, const Vec& freqs, int64_t pos) {
  rope_adjacent(v.data() + (static_cast<int64_t>(v.size()) - d_rope), freqs, pos);
}

// One pooling slot: a token's projections, read at channel offset `half`.
struct Slot {
  Vec a, z;
  int64_t half;
};

// Entry w from the raw rows: gated per-channel softmax pooling, RMSNorm, RoPE at w·m.
Vec entry(const V4CompressorRef& c, const Mat& x, int64_t w) {
  const int64_t m = c.ratio, d = c.dim;
  std::vector<Slot> slots;
  auto add = [&](int64_t s, int64_t half) {
    Vec z = project(c.wgate, x[static_cast<size_t>(s)]);
    const Vec& ape = c.ape[static_cast<size_t>(s % m)];
    for (size_t i = 0; i < z.size(); ++i) z[i] += ape[i];
    slots.push_back({project(c.wkv, x[static_cast<size_t>(s)]), std::move(z), half});
  };
  if (c.overlap && w > 0)
    for (int64_t s = (w - 1) * m; s < w * m; ++s) add(s, 0);  // previous window, first half
  for (int64_t s = w * m; s < (w + 1) * m; ++s) add(s, c.overlap ? d : 0);
  Vec out(static_cast<size_t>(d));
  for (int64_t ch = 0; ch < d; ++ch) {
    Vec logits;
    for (const Slot& sl : slots) logits.push_back(sl.z[static_cast<size_t>(ch + sl.half)]);
    softmax_in_place(logits);
    double v = 0.0;
    for (size_t i = 0; i < slots.size(); ++i) v += logits[i] * slots[i].a[static_cast<size_t>(ch + slots[i].half)];
    out[static_cast<size_t>(ch)] = v;
  }
  const double ms = dot(out, out) / static_cast<double>(d);
  for (int64_t i = 0; i < d; ++i) out[static_cast<size_t>(i)] *= c.norm[static_cast<size_t>(i)] / std::sqrt(ms + c.eps);
  rope_tail(out, c.d_rope, c.freqs, w * m);
  return c.hadamard ? hadamard(out) : out;
}

}  // namespace

Mat v4_entries_ref(const V4CompressorRef& c, const Mat& x, int64_t t) {
  const Mat seen(x.begin(), x.begin() + t + 1);  // nothing after t can leak in
  Mat out;
  for (int64_t w = 0; w < (t + 1) / c.ratio; ++w) out.push_back(entry(c, seen, w));
  return out;
}

Vec v4_index_scores_ref(const V4IndexerRef& ix, const Mat& x, const Mat& q_lora, int64_t t) {
  const Mat keys = v4_entries_ref(ix.keys, x, t);
  const Vec q_all = project(ix.wq_b, q_lora[static_cast<size_t>(t)]);
  const Vec weights = project(ix.proj, x[static_cast<size_t>(t)]);
  const double factor = 1.0 / std::sqrt(static_cast<double>(ix.head_dim * ix.n_head));
  Vec scores(keys.size(), 0.0);
  for (int64_t h = 0; h < ix.n_head; ++h) {
    Vec q(q_all.begin() + h * ix.head_dim, q_all.begin() + (h + 1) * ix.head_dim);
    rope_tail(q, ix.d_rope, ix.keys.freqs, t);
    q = hadamard(q);
    for (size_t w = 0; w < keys.size(); ++w)
      scores[w] += weights[static_cast<size_t>(h)] * factor * std::max(dot(q, keys[w]), 0.0);
  }
  return scores;
}

std::vector<int32_t> v4_selected_ref(const V4IndexerRef& ix, const Mat& x, const Mat& q_lora, int64_t t) {
  const Vec scores = v4_index_scores_ref(ix, x, q_lora, t);
  std::vector<int32_t> ids(scores.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)]; });
  ids.resize(std::min<size_t>(ids.size(), static_cast<size_t>(ix.topk)));
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace dseek::reference
