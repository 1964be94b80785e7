// DeepSeek-V4's KV compressor and CSA indexer (model/blocks/v4_compressor,
// v4_indexer) against the float64 reference (reference/v4_compressor_ref), which
// recomputes every entry from the raw rows <= t: entries within 1e-5, absorbing
// in any chunking bit-identical to one batch, entries appearing exactly at the
// token that closes a window, and the indexer's choice equal to the reference's
// on 64 tokens where it must choose (16 entries, top 4).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "model/blocks/v4_compressor.h"
#include "model/blocks/v4_indexer.h"
#include "reference/ref_math.h"
#include "reference/v4_compressor_ref.h"

namespace dseek {
namespace {

using reference::Mat;

constexpr int64_t kEmbd = 32, kQLora = 24, kTokens = 64, kRope = 8;
const YarnParams kYarn{4.0, 16.0, 32.0, 1.0, 0.0};  // positions past 16 use the YaRN ramp
constexpr double kTheta = 160000.0;

// A weight in both worlds: f32 for the engine, float64 rows for the reference.
struct Weight {
  std::vector<float> data;
  int64_t rows = 0, cols = 0;
  kernels::MatrixView view() const { return kernels::make_matrix(DType::kF32, data.data(), rows, cols); }
  Mat mat() const {
    Mat m(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) m[static_cast<size_t>(r)].assign(data.begin() + r * cols, data.begin() + (r + 1) * cols);
    return m;
  }
};

Weight random_weight(std::mt19937& rng, int64_t rows, int64_t cols, float scale, float offset = 0.0f) {
  std::normal_distribution<float> n(0.0f, 1.0f);
  Weight w{std::vector<float>(static_cast<size_t>(rows * cols)), rows, cols};
  for (float& v : w.data) v = offset + scale * n(rng);
  return w;
}

// One compressor's weights with their owner and both views.
struct Compressor {
  Weight wkv, wgate, ape, norm;
  V4CompressorWeights w;
  reference::V4CompressorRef ref;

  Compressor(std::mt19937& rng, int64_t ratio, int64_t dim, bool overlap, bool hadamard) {
    const int64_t cd = overlap ? 2 * dim : dim;
    wkv = random_weight(rng, cd, kEmbd, 0.3f);
    wgate = random_weight(rng, cd, kEmbd, 0.5f);
    ape = random_weight(rng, ratio, cd, 0.5f);
    norm = random_weight(rng, 1, dim, 0.1f, 1.0f);
    w = {ratio, dim, kRope, overlap, hadamard, 1e-6f, wkv.view(), wgate.view(), ape.data.data(), norm.data.data()};
    ref = {ratio, dim, kRope, overlap, hadamard, 1e-6, wkv.mat(), wgate.mat(), ape.mat(), {}, {}};
    ref.norm.assign(norm.data.begin(), norm.data.end());
    ref.freqs = reference::yarn_freqs(kRope, kTheta, {kYarn.factor, kYarn.orig_ctx, kYarn.beta_fast, kYarn.beta_slow, 0.0});
  }
};

Weight random_rows(std::mt19937& rng, int64_t n, int64_t width) { return random_weight(rng, n, width, 1.0f); }

struct V4Compressor : ::testing::Test {
  std::mt19937 rng{1234};
  ThreadPool pool{2};
  StepArena arena;
  RopeTable rope{kRope, kTheta, kYarn};
  Weight x = random_rows(rng, kTokens, kEmbd);

  // Absorbs tokens [0, kTokens) in chunks of `chunk` (0: one step) and returns the state.
  V4CompressedKv absorb(const V4CompressorWeights& w, int64_t chunk) {
    V4CompressedKv kv(w);
    const int64_t step = chunk > 0 ? chunk : kTokens;
    for (int64_t t0 = 0; t0 < kTokens; t0 += step) {
      const int64_t n = std::min(step, kTokens - t0);
      const V4CompressSpan span{&kv, 0, n};
      v4_compress(pool, w, rope, x.data.data() + t0 * kEmbd, {&span, 1}, arena);
      arena.reset();
    }
    return kv;
  }

  void expect_matches_reference(const Compressor& c) {
    const V4CompressedKv kv = absorb(c.w, 0);
    ASSERT_EQ(kv.n_entries(), kTokens / c.w.ratio);
    double worst = 0.0;
    for (int64_t t = 0; t < kTokens; ++t) {
      const Mat ref = reference::v4_entries_ref(c.ref, x.mat(), t);
      ASSERT_EQ(static_cast<int64_t>(ref.size()), v4_visible_entries(t, c.w.ratio)) << "t=" << t;
      for (size_t e = 0; e < ref.size(); ++e)
        for (int64_t i = 0; i < c.w.dim; ++i)
          worst = std::max(worst, std::abs(kv.entry(static_cast<int64_t>(e))[i] - ref[e][static_cast<size_t>(i)]));
    }
    std::printf("ratio %lld: max |entry - reference| = %.3g\n", static_cast<long long>(c.w.ratio), worst);
    EXPECT_LE(worst, 1e-5);
  }
};

bool same_entries(const V4CompressedKv& a, const V4CompressedKv& b) {
  return a.n_entries() == b.n_entries() &&
         std::memcmp(a.entry(0), b.entry(0), static_cast<size_t>(a.n_entries() * a.dim()) * sizeof(float)) == 0;
}

TEST_F(V4Compressor, CsaEntriesMatchReference) { expect_matches_reference(Compressor(rng, 4, 16, true, false)); }
TEST_F(V4Compressor, HcaEntriesMatchReference) { expect_matches_reference(Compressor(rng, 16, 16, false, false)); }
TEST_F(V4Compressor, IndexKeysMatchReference) { expect_matches_reference(Compressor(rng, 4, 16, true, true)); }

TEST_F(V4Compressor, IncrementalEqualsBatchBitForBit) {
  for (const bool overlap : {true, false}) {
    const Compressor c(rng, overlap ? 4 : 16, 16, overlap, false);
    const V4CompressedKv batch = absorb(c.w, 0);
    for (const int64_t chunk : {1, 3, 5, 7, 13})
      EXPECT_TRUE(same_entries(batch, absorb(c.w, chunk))) << "overlap " << overlap << " chunk " << chunk;
  }
}

// Entry 0 appears with token ratio − 1 (the window's last), not before.
TEST_F(V4Compressor, EntryAppearsAtTheClosingToken) {
  const Compressor c(rng, 4, 16, true, false);
  V4CompressedKv kv(c.w);
  for (int64_t t = 0; t < 9; ++t) {
    const V4CompressSpan span{&kv, 0, 1};
    v4_compress(pool, c.w, rope, x.data.data() + t * kEmbd, {&span, 1}, arena);
    EXPECT_EQ(kv.n_entries(), v4_visible_entries(t, 4)) << "t=" << t;
  }
  EXPECT_EQ(v4_visible_entries(2, 4), 0);
  EXPECT_EQ(v4_visible_entries(3, 4), 1);
}

// Two sequences of different lengths in one step give each one's entries alone.
TEST_F(V4Compressor, BatchOfSequencesIsInvariant) {
  const Compressor c(rng, 4, 16, true, false);
  V4CompressedKv a(c.w), b(c.w);
  const V4CompressSpan spans[] = {{&a, 0, 40}, {&b, 40, 24}};
  v4_compress(pool, c.w, rope, x.data.data(), spans, arena);
  V4CompressedKv alone(c.w);
  const V4CompressSpan one{&alone, 0, 40};
  v4_compress(pool, c.w, rope, x.data.data(), {&one, 1}, arena);
  EXPECT_TRUE(same_entries(a, alone));
  EXPECT_EQ(b.n_entries(), 6);
}

// The figures of docs/design/deepseek-v4.md §5 at V4-Flash's shapes.
TEST(V4CompressedBytes, FlashShapes) {
  const V4CompressorWeights csa{4, 512, 64, true}, hca{128, 512, 64, false}, keys{4, 128, 64, true, true};
  EXPECT_EQ(v4_compressed_bytes(csa, &keys).per_token, 640.0);
  EXPECT_EQ(v4_compressed_bytes(hca, nullptr).per_token, 16.0);
  EXPECT_EQ(v4_compressed_bytes(csa, &keys).fixed, 2 * 8 * 1024 * 4 + 2 * 8 * 256 * 4);  // 80 KiB
  EXPECT_EQ(v4_compressed_bytes(hca, nullptr).fixed, 2 * 128 * 512 * 4);                 // 512 KiB
}

struct Indexer {
  Compressor keys;
  Weight wq_b, proj;
  V4IndexerWeights w;
  reference::V4IndexerRef ref;
  static constexpr int64_t kHeads = 4, kDim = 16, kTopk = 4;

  explicit Indexer(std::mt19937& rng)
      : keys(rng, 4, kDim, true, true),
        wq_b(random_weight(rng, kHeads * kDim, kQLora, 0.3f)),
        proj(random_weight(rng, kHeads, kEmbd, 0.3f)) {
    w = {kHeads, kDim, kRope, kTopk, wq_b.view(), proj.view(), keys.w};
    ref = {kHeads, kDim, kRope, kTopk, wq_b.mat(), proj.mat(), keys.ref};
  }
};

// The selections of all 64 rows, absorbed in chunks of `chunk`.
std::vector<std::vector<int32_t>> select_all(V4Compressor& f, const Indexer& ix, const Weight& q_lora, int64_t chunk) {
  V4CompressedKv keys(ix.w.keys);
  std::vector<std::vector<int32_t>> out;
  for (int64_t t0 = 0; t0 < kTokens; t0 += chunk) {
    const int64_t n = std::min(chunk, kTokens - t0);
    const V4IndexSpan span{&keys, 0, n};
    const V4Selection sel = v4_index(f.pool, ix.w, f.rope, f.x.data.data() + t0 * kEmbd,
                                     q_lora.data.data() + t0 * kQLora, {&span, 1}, f.arena);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<int32_t> ids;
      if (sel.dense(i))
        for (int32_t e = 0; e < v4_visible_entries(t0 + i, 4); ++e) ids.push_back(e);
      else
        ids.assign(sel.of(i).begin(), sel.of(i).end());
      out.push_back(ids);
    }
    f.arena.reset();
  }
  return out;
}

TEST_F(V4Compressor, IndexerSelectsAsTheReference) {
  const Indexer ix(rng);
  const Weight q_lora = random_rows(rng, kTokens, kQLora);
  const std::vector<std::vector<int32_t>> got = select_all(*this, ix, q_lora, kTokens);
  int64_t chose = 0;
  for (int64_t t = 0; t < kTokens; ++t) {
    EXPECT_EQ(got[static_cast<size_t>(t)], reference::v4_selected_ref(ix.ref, x.mat(), q_lora.mat(), t)) << "t=" << t;
    chose += v4_visible_entries(t, 4) > Indexer::kTopk;
  }
  EXPECT_GT(chose, 40);  // most rows really choose 4 of up to 16 entries
  for (const int64_t chunk : {1, 5, 13}) EXPECT_EQ(select_all(*this, ix, q_lora, chunk), got) << "chunk " << chunk;
}

}  // namespace
}  // namespace dseek
