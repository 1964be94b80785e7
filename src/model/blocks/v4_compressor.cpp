// See v4_compressor.h: the pooling state, the emission of an entry, the step driver.
#include "model/blocks/v4_compressor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "model/blocks/linear.h"

namespace dseek {
namespace {

constexpr int64_t kMaxRopePairs = 256, kMaxSlots = 256;

// Rows of pooling state: the open window, plus the last closed one with overlap.
int64_t state_rows(const V4CompressorWeights& w) { return w.overlap ? 2 * w.ratio : w.ratio; }

// out[ch] = Σ_i softmax_i(z_i[ch]) · a_i[ch] over n slots; slot i reads channel
// ch + off[i] of row i (the "a" or "b" half). Sums in double, slots in order.
void pool_channels(const float* const* a, const float* const* z, const int64_t* off, int64_t n, int64_t d, float* out) {
  for (int64_t ch = 0; ch < d; ++ch) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, z[i][ch + off[i]]);
    double sum = 0.0, acc = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double e = std::exp(static_cast<double>(z[i][ch + off[i]]) - static_cast<double>(mx));
      sum += e;
      acc += e * static_cast<double>(a[i][ch + off[i]]);
    }
    out[ch] = static_cast<float>(acc / sum);
  }
}

}  // namespace

V4CompressedKv::V4CompressedKv(const V4CompressorWeights& w)
    : dim_(w.dim),
      kv_(static_cast<size_t>(state_rows(w) * w.width())),
      score_(static_cast<size_t>(state_rows(w) * w.width())) {
  if (w.ratio <= 0 || state_rows(w) > kMaxSlots || w.dim <= 0 || w.d_rope > w.dim || w.d_rope / 2 > kMaxRopePairs)
    throw std::invalid_argument("V4 compressor: bad ratio / dim / rope dims");
}

int64_t V4CompressedKv::state_bytes(const V4CompressorWeights& w) {
  return 2 * state_rows(w) * w.width() * static_cast<int64_t>(sizeof(float));
}

void V4CompressedKv::clear() {
  n_tokens_ = 0;
  entries_.clear();
}

void V4CompressedKv::absorb(const V4CompressorWeights& w, const RopeTable& rope, const float* a, const float* z) {
  const int64_t m = w.ratio, cd = w.width(), i = n_tokens_ % m;
  const int64_t row = (w.overlap ? m : 0) + i;
  float* kv = kv_.data() + row * cd;
  float* score = score_.data() + row * cd;
  const float* ape = w.ape + i * cd;
  for (int64_t c = 0; c < cd; ++c) kv[c] = a[c], score[c] = z[c] + ape[c];
  ++n_tokens_;
  if (i == m - 1) emit(w, rope);
}

// Window w = n_entries() has just closed: pool, normalise, rotate, append.
void V4CompressedKv::emit(const V4CompressorWeights& w, const RopeTable& rope) {
  const int64_t m = w.ratio, d = w.dim, cd = w.width(), index = n_entries();
  std::array<const float*, kMaxSlots> a, z;
  std::array<int64_t, kMaxSlots> off;
  int64_t n = 0;
  auto slot = [&](int64_t row, int64_t half) { a[n] = kv_.data() + row * cd, z[n] = score_.data() + row * cd, off[n++] = half; };
  const bool with_previous = w.overlap && index > 0;  // window −1 has no slots (weight 0)
  for (int64_t i = 0; with_previous && i < m; ++i) slot(i, 0);
  for (int64_t i = 0; i < m; ++i) slot((w.overlap ? m : 0) + i, w.overlap ? d : 0);
  entries_.resize(static_cast<size_t>((index + 1) * d));
  float* e = entries_.data() + index * d;
  pool_channels(a.data(), z.data(), off.data(), n, d, e);
  kernels::rms_norm(e, w.norm, e, d, w.eps);
  if (w.d_rope > 0) {
    std::array<float, kMaxRopePairs> cos{}, sin{};
    rope.angles(index * m, cos.data(), sin.data());
    kernels::rope_adjacent(e + d - w.d_rope, w.d_rope, cos.data(), sin.data());
  }
  if (w.hadamard) kernels::hadamard_rotate(e, d);
  if (w.overlap) {  // the closed window becomes the next entry's "a" half
    std::copy(kv_.begin() + m * cd, kv_.end(), kv_.begin());
    std::copy(score_.begin() + m * cd, score_.end(), score_.begin());
  }
}

V4CompressedBytes v4_compressed_bytes(const V4CompressorWeights& entries, const V4CompressorWeights* index_keys) {
  V4CompressedBytes b{V4CompressedKv::bytes_per_token(entries), V4CompressedKv::state_bytes(entries)};
  if (index_keys) b.per_token += V4CompressedKv::bytes_per_token(*index_keys), b.fixed += V4CompressedKv::state_bytes(*index_keys);
  return b;
}

void v4_compress(ThreadPool& pool, const V4CompressorWeights& w, const RopeTable& rope, const float* xn,
                 std::span<const V4CompressSpan> seqs, StepArena& arena) {
  int64_t n_tok = 0;
  for (const V4CompressSpan& sq : seqs) n_tok = std::max(n_tok, sq.first + sq.n_tok);
  if (n_tok == 0) return;
  const StepArena::Scope scope(arena);
  const int64_t cd = w.width();
  float* a = arena.take<float>(n_tok * cd);
  float* z = arena.take<float>(n_tok * cd);
  const LinearJob jobs[] = {{&w.wkv, xn, n_tok, a}, {&w.wgate, xn, n_tok, z}};
  linear_many(pool, jobs, arena);
  pool.parallel_for(static_cast<int64_t>(seqs.size()), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const V4CompressSpan& sq = seqs[static_cast<size_t>(s)];
      for (int64_t i = sq.first; i < sq.first + sq.n_tok; ++i) sq.kv->absorb(w, rope, a + i * cd, z + i * cd);
    }
  });
}

}  // namespace dseek
