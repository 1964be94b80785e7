// Header-only helpers for tests that link the model library: loading a model
// in one call, all logits of a prompt (in chunks, over an owned or a paged cache),
// and reading llama2.c reference id lists ("prompt_ids: 1 403 ...").
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"
#include "support/test_support.h"

namespace dseek::test {

inline std::shared_ptr<const Model> load_model_or_fail(const std::string& path) {
  auto files = open_model_files(path);
  EXPECT_TRUE(files.ok()) << files.message();
  if (!files.ok()) return nullptr;
  auto m = load_model(std::make_shared<const ModelFiles>(std::move(files).value()));
  EXPECT_TRUE(m.ok()) << m.message();
  return m.ok() ? m.value() : nullptr;
}

// `dseek init --arch ARCH --preset PRESET --dtype DTYPE` into dir/m.gguf, loaded;
// null (with the failure recorded) when either step fails.
inline std::shared_ptr<const Model> init_and_load(const TempDir& dir, const std::string& arch,
                                                  const std::string& preset, const std::string& dtype) {
  const std::string path = (dir / "m.gguf").string();
  auto r = run_dseek("init --arch " + arch + " --preset " + preset + " --dtype " + dtype + " -o '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? load_model_or_fail(path) : nullptr;
}

// All logits of `toks`, fed in chunks of `chunk` tokens (1 = token-by-token decode) into `cache`.
inline std::vector<float> chunked_logits(const Model& m, const std::vector<int32_t>& toks, size_t chunk,
                                         AttentionMode mode, int threads, KvCache& cache) {
  ThreadPool pool(threads);
  const size_t V = static_cast<size_t>(m.n_vocab());
  std::vector<float> out(toks.size() * V);
  ForwardOptions opt;
  opt.mode = mode;
  for (size_t i = 0; i < toks.size(); i += chunk) {
    const size_t n = std::min(chunk, toks.size() - i);
    Status st = m.forward(std::span<const int32_t>(&toks[i], n), cache, pool, opt, out.data() + i * V);
    EXPECT_TRUE(st.ok()) << st.message();
  }
  return out;
}

// The same over a cache of the model's own.
inline std::vector<float> chunked_logits(const Model& m, const std::vector<int32_t>& toks, size_t chunk,
                                         AttentionMode mode, int threads = 1) {
  KvCache cache = m.new_cache(static_cast<int64_t>(toks.size()));
  return chunked_logits(m, toks, chunk, mode, threads, cache);
}

// The same over the engine's kind of cache: pages of 16 tokens taken out of order
// ({3, 0, 2}) from a shared store, fed in chunks of 7 that straddle page boundaries.
inline std::vector<float> paged_logits(const Model& m, const std::vector<int32_t>& toks, AttentionMode mode,
                                       int threads) {
  const KvCache shape = m.new_cache(1);
  constexpr int64_t kPageTokens = 16;
  std::vector<float> store(static_cast<size_t>(4 * shape.n_layer() * kPageTokens * shape.width()), 0.0f);
  KvCache paged(store.data(), shape.n_layer(), shape.width(), kPageTokens);
  paged.pages() = {3, 0, 2};
  paged.extension = m.new_cache_extension();  // per-sequence state beyond the rows (DeepSeek-V4)
  EXPECT_LE(toks.size(), 3 * static_cast<size_t>(kPageTokens));
  return chunked_logits(m, toks, 7, mode, threads, paged);
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
  return d;
}

// The ids on the line that starts with `key` in a llama2.c .ids reference file.
inline std::vector<int32_t> ids_after(const std::string& text, const std::string& key) {
  std::vector<int32_t> ids;
  const auto p = text.find(key);
  if (p == std::string::npos) return ids;
  std::istringstream in(text.substr(p + key.size(), text.find('\n', p) - p - key.size()));
  for (int32_t v; in >> v;) ids.push_back(v);
  return ids;
}

}  // namespace dseek::test
