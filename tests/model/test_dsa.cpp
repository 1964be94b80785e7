// DeepSeek-V3.2's sparse attention (DSA) on a tiny random model (`dseek init
// --arch deepseek-v32 --preset tiny`: index_topk 8): against the float64
// reference at 48 tokens (so most queries attend to 8 of their keys), equal
// bit for bit to dense MLA while every query's keys fit in index_topk, batch
// composition not changing a sequence's logits, and the config / inspect side.
// (Prefill vs token-by-token and 1 vs 2 threads: ForwardInvariance in test_forward.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/arch.h"
#include "model/model.h"
#include "reference/reference_model.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::max_abs_diff;

using test::load_model_or_fail;

std::string init_v32(const test::TempDir& dir) {
  const std::string path = (dir / "v32.gguf").string();
  auto r = test::run_dseek("init --arch deepseek-v32 --preset tiny -o '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

// A copy of `src` without the indexer (dense V3), or with index_topk changed.
void rewrite(const std::string& src, const std::string& dst, bool drop_indexer, int64_t topk = 0) {
  auto f = GgufFile::open(src);
  ASSERT_TRUE(f.ok());
  GgufWriter w;
  for (const auto& [k, v] : f->metadata()) {
    const bool indexer_key = k.find(".attention.indexer.") != std::string::npos;
    if (indexer_key && drop_indexer) continue;
    if (drop_indexer && k == "general.architecture") {  // without its indexer the file is a deepseek2 (V3) one
      w.set(k, GgufValue::str("deepseek2"));
      continue;
    }
    const std::string key = drop_indexer && k.starts_with("deepseek32.") ? "deepseek2." + k.substr(11) : k;
    w.set(key, k.ends_with("indexer.top_k") && topk > 0 ? GgufValue::u32(static_cast<uint32_t>(topk)) : v);
  }
  std::vector<std::span<const std::byte>> data;
  for (const auto& t : f->tensors()) {
    if (drop_indexer && t.name.find(".indexer.") != std::string::npos) continue;
    w.add_tensor(t.name, t.dtype, t.ne);
    data.push_back(f->tensor_data(t));
  }
  ASSERT_TRUE(w.write(dst, [&](size_t i, std::span<std::byte> out) {
                 std::memcpy(out.data(), data[i].data(), data[i].size());
                 return ok_status();
               }).ok());
}

std::vector<int32_t> tokens(int64_t n, int64_t vocab) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((i * 97 + 13) % vocab));
  return t;
}

std::vector<float> logits(const Model& m, const std::vector<int32_t>& toks, AttentionMode mode, int threads = 1) {
  ThreadPool pool(threads);
  KvCache cache = m.new_cache(static_cast<int64_t>(toks.size()));
  std::vector<float> out(toks.size() * static_cast<size_t>(m.n_vocab()));
  ForwardOptions opt;
  opt.mode = mode;
  EXPECT_TRUE(m.forward(toks, cache, pool, opt, out.data()).ok());
  return out;
}

TEST(Dsa, TinyV32MatchesFloat64ReferenceAt48Tokens) {
  test::TempDir dir;
  const std::string path = init_v32(dir);
  auto m = load_model_or_fail(path);
  ASSERT_TRUE(m);
  const int64_t V = m->n_vocab();
  const auto toks = tokens(48, V);
  auto ref = reference::forward_logits(path, toks);
  ASSERT_TRUE(ref.ok()) << ref.message();
  for (AttentionMode mode : {AttentionMode::kNaive, AttentionMode::kAbsorbed}) {
    const auto got = logits(*m, toks, mode, 2);
    double err = 0, scale = 0;
    int argmax_mismatch = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      err = std::max(err, std::fabs(got[i] - (*ref)[i]));
      scale = std::max(scale, std::fabs((*ref)[i]));
    }
    for (size_t r = 0; r < toks.size(); ++r) {
      const auto g = std::max_element(got.begin() + r * V, got.begin() + (r + 1) * V) - (got.begin() + r * V);
      const auto w = std::max_element(ref->begin() + r * V, ref->begin() + (r + 1) * V) - (ref->begin() + r * V);
      argmax_mismatch += g != w;
    }
    std::printf("deepseek-v32 tiny, 48 tokens, top-k 8, %s: max |err| %.3g, logit scale %.3g, relative %.3g\n",
                mode == AttentionMode::kNaive ? "naive" : "absorbed", err, scale, err / scale);
    EXPECT_LE(err, 1e-4 * scale);
    EXPECT_EQ(argmax_mismatch, 0);
    EXPECT_GT(scale, 1.0);
  }
}

TEST(Dsa, EqualsDenseMlaWhileKeysFitTopk) {
  test::TempDir dir;
  const std::string path = init_v32(dir), dense = (dir / "dense.gguf").string(), wide = (dir / "wide.gguf").string();
  rewrite(path, dense, true);
  rewrite(path, wide, false, 64);
  auto sparse_m = load_model_or_fail(path), dense_m = load_model_or_fail(dense), wide_m = load_model_or_fail(wide);
  ASSERT_TRUE(sparse_m && dense_m && wide_m);
  EXPECT_EQ(dense_m->arch().name(), "deepseek-v3");
  EXPECT_EQ(sparse_m->arch().name(), "deepseek-v32");
  for (AttentionMode mode : {AttentionMode::kNaive, AttentionMode::kAbsorbed}) {
    const auto short_toks = tokens(8, sparse_m->n_vocab()), long_toks = tokens(48, sparse_m->n_vocab());
    EXPECT_EQ(max_abs_diff(logits(*sparse_m, short_toks, mode), logits(*dense_m, short_toks, mode)), 0.0)
        << "8 tokens <= index_topk 8: dense MLA bit for bit";
    const auto dense48 = logits(*dense_m, long_toks, mode);
    EXPECT_EQ(max_abs_diff(logits(*wide_m, long_toks, mode), dense48), 0.0) << "index_topk 64 >= 48 tokens";
    EXPECT_GT(max_abs_diff(logits(*sparse_m, long_toks, mode), dense48), 1e-3) << "index_topk 8 at 48 tokens is sparse";
  }
}

TEST(Dsa, BatchCompositionDoesNotChangeASequence) {
  test::TempDir dir;
  auto m = load_model_or_fail(init_v32(dir));
  ASSERT_TRUE(m);
  const int64_t V = m->n_vocab();
  const auto a = tokens(40, V);
  std::vector<int32_t> b;
  for (int i = 0; i < 30; ++i) b.push_back(static_cast<int32_t>((i * 31 + 5) % V));
  const auto alone = logits(*m, a, AttentionMode::kAbsorbed, 2);
  ThreadPool pool(2);
  KvCache ca = m->new_cache(40), cb = m->new_cache(30);
  std::vector<float> out((40 + 30) * static_cast<size_t>(V));
  const SeqBatch batch[] = {{.tokens = b, .cache = &cb, .all_rows = true}, {.tokens = a, .cache = &ca, .all_rows = true}};
  ForwardOptions opt;
  opt.mode = AttentionMode::kAbsorbed;
  ASSERT_TRUE(m->forward_batch(batch, pool, opt, out.data()).ok());
  const std::vector<float> batched(out.begin() + 30 * V, out.end());
  EXPECT_EQ(max_abs_diff(alone, batched), 0.0);
}

// The engine's paged cache: pages taken out of order from a shared store give
// the same logits as one self-owned page (the key records live in the rows).
TEST(Dsa, PagedCacheEqualsOneOwnedPage) {
  test::TempDir dir;
  auto m = load_model_or_fail(init_v32(dir));
  ASSERT_TRUE(m);
  const auto toks = tokens(40, m->n_vocab());
  const auto owned = logits(*m, toks, AttentionMode::kAbsorbed, 2);
  const auto out = test::paged_logits(*m, toks, AttentionMode::kAbsorbed, 2);  // chunks straddle page boundaries
  EXPECT_EQ(max_abs_diff(owned, out), 0.0);
}

// `f`'s tensors under the metadata `w` already holds, written to `dst`.
void write_with_tensors(const GgufFile& f, GgufWriter& w, const std::string& dst) {
  std::vector<std::span<const std::byte>> data;
  for (const auto& t : f.tensors()) {
    w.add_tensor(t.name, t.dtype, t.ne);
    data.push_back(f.tensor_data(t));
  }
  ASSERT_TRUE(w.write(dst, [&](size_t i, std::span<std::byte> out) {
                 std::memcpy(out.data(), data[i].data(), data[i].size());
                 return ok_status();
               }).ok());
}

// GGUF as llama.cpp names V3.2 (its `deepseek32` architecture): the keys under
// deepseek32., the indexer tensors blk.N.indexer.{attn_q_b,attn_k,k_norm,proj}.
// The metadata written back from the loaded architecture gives the same model;
// V3.2 files dseek wrote under deepseek2 still load; deepseek32 without its
// indexer keys is refused rather than run dense.
TEST(Dsa, GgufUsesLlamaCppDeepseek32NamesAndRoundTrips) {
  test::TempDir dir;
  const std::string path = init_v32(dir);
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->get_string("general.architecture").value_or(""), "deepseek32");
  for (const char* key : {"deepseek32.attention.indexer.head_count", "deepseek32.attention.indexer.key_length",
                          "deepseek32.attention.indexer.top_k", "deepseek32.attention.kv_lora_rank"})
    EXPECT_NE(f->find(key), nullptr) << key;
  for (const char* t : {"blk.1.indexer.attn_q_b.weight", "blk.1.indexer.attn_k.weight", "blk.1.indexer.k_norm.weight",
                        "blk.1.indexer.k_norm.bias", "blk.1.indexer.proj.weight"})
    EXPECT_NE(f->find_tensor(t), nullptr) << t;
  auto arch = architecture_from_gguf(*f);
  ASSERT_TRUE(arch.ok()) << arch.message();
  const std::string round_trip = (dir / "round.gguf").string(), old_style = (dir / "old.gguf").string(),
                    headless = (dir / "headless.gguf").string();
  GgufWriter again, old_keys, no_indexer;
  (*arch)->write_gguf_metadata(again);
  for (const auto& [k, v] : f->metadata()) {
    if (k == "general.architecture") {
      old_keys.set(k, GgufValue::str("deepseek2"));
      no_indexer.set(k, v);
      continue;
    }
    old_keys.set(k.starts_with("deepseek32.") ? "deepseek2." + k.substr(11) : k, v);
    if (k.find(".indexer.") == std::string::npos) no_indexer.set(k, v);
  }
  write_with_tensors(*f, again, round_trip);
  write_with_tensors(*f, old_keys, old_style);
  write_with_tensors(*f, no_indexer, headless);
  auto now = load_model_or_fail(path), back = load_model_or_fail(round_trip), old = load_model_or_fail(old_style);
  ASSERT_TRUE(now && back && old);
  EXPECT_EQ(back->arch().name(), "deepseek-v32");
  EXPECT_EQ(old->arch().name(), "deepseek-v32");
  const auto toks = tokens(20, now->n_vocab());
  const auto want = logits(*now, toks, AttentionMode::kAbsorbed);
  EXPECT_EQ(max_abs_diff(want, logits(*back, toks, AttentionMode::kAbsorbed)), 0.0);
  EXPECT_EQ(max_abs_diff(want, logits(*old, toks, AttentionMode::kAbsorbed)), 0.0);
  auto refused = open_model_files(headless);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("indexer"), std::string::npos) << refused.message();
}

TEST(Dsa, HfConfigAndDescription) {
  const char* base = R"({"model_type":"deepseek_v32","vocab_size":512,"hidden_size":64,"num_hidden_layers":2,
    "num_attention_heads":4,"intermediate_size":192,"moe_intermediate_size":32,"n_routed_experts":8,
    "n_shared_experts":1,"num_experts_per_tok":2,"first_k_dense_replace":1,"q_lora_rank":32,"kv_lora_rank":32,
    "qk_nope_head_dim":16,"qk_rope_head_dim":8,"v_head_dim":16)";
  auto a = architecture_from_hf_config(
      nlohmann::json::parse(std::string(base) + R"(,"index_n_heads":4,"index_head_dim":128,"index_topk":8})"));
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ((*a)->name(), "deepseek-v32");
  bool wq_b = false, k_norm_bias = false;
  for (const auto& s : (*a)->tensor_specs()) {
    wq_b |= s.hf_name == "model.layers.1.self_attn.indexer.wq_b.weight" && s.gguf_name == "blk.1.indexer.attn_q_b.weight";
    k_norm_bias |= s.hf_name == "model.layers.0.self_attn.indexer.k_norm.bias";
  }
  EXPECT_TRUE(wq_b);
  EXPECT_TRUE(k_norm_bias);
  std::string described;
  for (const auto& [k, v] : (*a)->describe()) described += k + ": " + v + "\n";
  EXPECT_NE(described.find("indexer cache / token / layer: 132 bytes"), std::string::npos) << described;
  // Kc 32 + Dr 8 values and the 33-float key record, per layer (2, no MTP): f32 292, bf16 212, fp8 180 bytes.
  EXPECT_NE(described.find("cache bytes / token (--cache-type): f32 584, bf16 424, fp8 360 (2 layers)"),
            std::string::npos) << described;
  // A V3.2 config without its indexer would silently run dense attention: refused.
  auto dense = architecture_from_hf_config(nlohmann::json::parse(std::string(base) + "}"));
  ASSERT_FALSE(dense.ok());
  EXPECT_NE(dense.message().find("index_n_heads"), std::string::npos) << dense.message();
}

}  // namespace
}  // namespace dseek
