// Models whose matrices are in any GGUF quant type load and run: a small
// deepseek-v3 model (n_embd 256, so rows hold whole 256-blocks) is rewritten with every matrix in type T (blocks taken
// from the quant zoo, which ggml wrote, or random MXFP4 blocks) and again with
// those same weights dequantised to f32. These types take the int8-activation
// path (kernels/int8_decode/), the f32 file the f32 one, so the logits differ by
// the activations' int8 rounding (each dot within its rounding bound:
// tests/kernels/test_int8_dot.cpp) carried through the layers: 1-5% of the
// largest logit on this random model, the same as q4_K / q6_K (run as controls,
// ~3% and ~2%). Tolerance: 8% of the largest logit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

namespace dseek {
namespace {

std::filesystem::path zoo_path() { return test::testdata_dir() / ".." / "quants" / "quant-zoo.gguf"; }

// Valid bytes of `t` to tile a tensor with: the zoo's ggml-made blocks, or
// random MXFP4 blocks with modest scales (the zoo's ggml predates MXFP4).
std::vector<std::byte> sample_blocks(DType t, const GgufFile* zoo) {
  if (t == DType::kMXFP4) {
    std::mt19937 rng(7);
    std::vector<std::byte> b(17 * 64);
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = static_cast<std::byte>(i % 17 == 0 ? 120 + rng() % 4 : rng() % 256);
    return b;
  }
  std::string name(dtype_name(t));
  if (name.ends_with("_k")) name.back() = 'K';
  const GgufTensorInfo* q = zoo->find_tensor("zoo." + name + ".q");
  EXPECT_NE(q, nullptr) << name;
  if (!q) return {};
  const auto d = zoo->tensor_data(*q);
  return {d.begin(), d.end()};
}

// Rewrites `src` (a q8_0 model): each q8_0 matrix whose rows hold whole blocks
// of `t` becomes `t` (tiled from `blocks`); with `as_f32` those weights are
// written dequantised to f32 instead. Other q8_0 matrices become f32 in both.
// Returns how many tensors were tiled.
int rewrite(const GgufFile& src, DType t, const std::vector<std::byte>& blocks, bool as_f32, const std::string& dst) {
  GgufWriter w;
  for (const auto& [k, v] : src.metadata()) w.set(k, v);
  std::vector<DType> kind;  // per tensor: t where it is tiled, else its f32 or original type
  for (const auto& ti : src.tensors()) {
    const bool tile = ti.dtype == DType::kQ8_0 && ti.ne[0] % dtype_traits(t).block_size == 0;
    kind.push_back(tile ? t : ti.dtype == DType::kQ8_0 ? DType::kF32 : ti.dtype);
    w.add_tensor(ti.name, kind.back() == t && as_f32 ? DType::kF32 : kind.back(), ti.ne);
  }
  Status st = w.write(dst, [&](size_t i, std::span<std::byte> out) {
    const GgufTensorInfo& ti = src.tensors()[i];
    const int64_t cols = ti.ne[0], rows = ti.n_elements() / cols;
    if (kind[i] == ti.dtype) {
      std::memcpy(out.data(), src.tensor_data(ti).data(), out.size());
      return ok_status();
    }
    const uint64_t in_row = *dtype_bytes(kind[i] == t ? t : ti.dtype, cols);
    std::vector<std::byte> row(in_row);
    for (int64_t r = 0; r < rows; ++r) {
      if (kind[i] == t) {
        for (uint64_t b = 0; b < in_row; ++b) row[b] = blocks[(r * in_row + b) % blocks.size()];
      } else {
        std::memcpy(row.data(), src.tensor_data(ti).data() + r * in_row, in_row);
      }
      const DType from = kind[i] == t ? t : ti.dtype;
      if (kind[i] == t && !as_f32) {
        std::memcpy(out.data() + r * in_row, row.data(), in_row);
      } else {
        kernels::dequantize_row(from, row.data(), reinterpret_cast<float*>(out.data()) + r * cols, cols);
      }
    }
    return ok_status();
  });
  EXPECT_TRUE(st.ok()) << st.message();
  return static_cast<int>(std::count(kind.begin(), kind.end(), t));
}

std::vector<float> logits(const Model& m, const std::vector<int32_t>& toks) {
  ThreadPool pool(2);
  KvCache cache = m.new_cache(static_cast<int64_t>(toks.size()));
  std::vector<float> out(toks.size() * static_cast<size_t>(m.n_vocab()));
  Status st = m.forward(toks, cache, pool, ForwardOptions{}, out.data());
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(QuantTypesModel, EveryTypeRunsCloseToItsF32Dequantisation) {
  if (!std::filesystem::exists(zoo_path())) GTEST_SKIP() << "quant zoo not found at " << zoo_path();
  auto zoo = GgufFile::open(zoo_path().string());
  ASSERT_TRUE(zoo.ok()) << zoo.message();
  test::TempDir dir;
  const std::string base = (dir / "q8.gguf").string();
  ASSERT_EQ(test::run_dseek("init --arch deepseek-v3 --preset small --dtype q8_0 -o '" + base + "'").exit_code, 0);
  auto src = GgufFile::open(base);
  ASSERT_TRUE(src.ok());
  const std::vector<int32_t> toks = {5, 17, 300, 2, 41};
  for (DType t : {DType::kQ4_K, DType::kQ6_K, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kIQ4_NL,
                  DType::kIQ4_XS, DType::kIQ3_XXS, DType::kIQ3_S, DType::kIQ2_XXS, DType::kIQ2_XS, DType::kIQ2_S,
                  DType::kIQ1_S, DType::kIQ1_M, DType::kTQ1_0, DType::kTQ2_0, DType::kMXFP4}) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    const auto blocks = sample_blocks(t, &*zoo);
    ASSERT_FALSE(blocks.empty());
    const std::string qp = (dir / "t.gguf").string(), fp = (dir / "f.gguf").string();
    EXPECT_GE(rewrite(*src, t, blocks, false, qp), 10);
    rewrite(*src, t, blocks, true, fp);
    auto mq = test::load_model_or_fail(qp);
    auto mf = test::load_model_or_fail(fp);
    ASSERT_TRUE(mq && mf);
    const auto a = logits(*mq, toks), b = logits(*mf, toks);
    double scale = 0, diff = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(std::isfinite(a[i]));
      scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
      diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    }
    EXPECT_GT(scale, 0.0);
    std::printf("%s: max logit difference / largest logit %.4f\n", std::string(dtype_name(t)).c_str(), diff / scale);
    EXPECT_LE(diff, 0.08 * scale);
  }
}

}  // namespace
}  // namespace dseek
