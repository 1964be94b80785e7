// Every GGUF quant type against llama.cpp itself: ../shared/quants/quant-zoo.gguf
// holds one 8x512 matrix quantised by ggml to 21 types (zoo.<type>.q) and
// ggml's own dequantisation of each (zoo.<type>.deq, f32). Our scalar
// dequantize_row must give those floats bit for bit, -0.0 included.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "kernels/kernels.h"

namespace dseek {
namespace {

std::string zoo_path() {
  const char* env = std::getenv("DSEEK_TESTDATA");
  return std::string(env ? env : DSEEK_TESTDATA) + "/../quants/quant-zoo.gguf";
}

// The zoo's types: the five dseek read before and the sixteen added with it.
constexpr const char* kZooTypes[] = {"q4_0",  "q4_1",   "q5_0",   "q5_1",    "q8_0",   "q2_K",    "q3_K",
                                     "q4_K",  "q5_K",   "q6_K",   "iq4_nl",  "iq4_xs", "iq3_xxs", "iq3_s",
                                     "iq2_xxs", "iq2_xs", "iq2_s", "iq1_s",  "iq1_m",  "tq1_0",   "tq2_0"};

class QuantZoo : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = zoo_path();
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "quant zoo not found at " << path << " (../shared/quants)";
    auto f = GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.status().message();
    zoo_.emplace(std::move(*f));
  }
  std::optional<GgufFile> zoo_;
};

TEST_F(QuantZoo, EveryTypeDequantisesBitExactToGgml) {
  for (const char* name : kZooTypes) {
    SCOPED_TRACE(name);
    const GgufTensorInfo* q = zoo_->find_tensor(std::string("zoo.") + name + ".q");
    const GgufTensorInfo* deq = zoo_->find_tensor(std::string("zoo.") + name + ".deq");
    ASSERT_NE(q, nullptr);
    ASSERT_NE(deq, nullptr);
    ASSERT_EQ(dtype_from_name(name), q->dtype);
    ASSERT_EQ(deq->dtype, DType::kF32);
    ASSERT_EQ(q->ne, deq->ne);
    const int64_t cols = q->ne[0], rows = q->n_elements() / cols;
    const uint64_t row_bytes = *dtype_bytes(q->dtype, cols);
    const auto raw = zoo_->tensor_data(*q);
    const auto want = zoo_->tensor_data(*deq);
    std::vector<float> got(static_cast<size_t>(cols));
    int64_t mismatches = 0;
    for (int64_t r = 0; r < rows; ++r) {
      kernels::dequantize_row(q->dtype, raw.data() + r * row_bytes, got.data(), cols);
      for (int64_t c = 0; c < cols; ++c) {
        uint32_t w;
        std::memcpy(&w, want.data() + (r * cols + c) * 4, 4);
        const uint32_t g = std::bit_cast<uint32_t>(got[static_cast<size_t>(c)]);
        if (g != w && mismatches++ < 5)
          ADD_FAILURE() << "row " << r << " col " << c << ": got " << std::hex << g << " want " << w;
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
}

// The zoo's source matrix through our quantiser and back, against ggml's own
// quantisation of it: our simple writers may lose more, but within a bound
// (measured: q2_K 1.10x, q3_K 1.01x, iq4_nl 1.00x, iq4_xs 1.01x ggml's rms error).
double rms_error(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return std::sqrt(s / static_cast<double>(n));
}

TEST_F(QuantZoo, OurWritersLoseAtMostABitMoreThanGgml) {
  const GgufTensorInfo* src = zoo_->find_tensor("zoo.src");
  ASSERT_NE(src, nullptr);
  const int64_t n = src->n_elements();
  std::vector<float> x(static_cast<size_t>(n)), back(x.size());
  std::memcpy(x.data(), zoo_->tensor_data(*src).data(), x.size() * 4);
  for (auto [name, factor] : {std::pair{"q2_K", 1.2}, std::pair{"q3_K", 1.1}, std::pair{"iq4_nl", 1.1},
                              std::pair{"iq4_xs", 1.1}}) {
    SCOPED_TRACE(name);
    const DType t = *dtype_from_name(name);
    std::vector<std::byte> q(*dtype_bytes(t, n));
    kernels::quantize_row(t, x.data(), q.data(), n);
    kernels::dequantize_row(t, q.data(), back.data(), n);
    const GgufTensorInfo* deq = zoo_->find_tensor(std::string("zoo.") + name + ".deq");
    ASSERT_NE(deq, nullptr);
    const double ours = rms_error(x.data(), back.data(), n);
    const double ggml = rms_error(x.data(), reinterpret_cast<const float*>(zoo_->tensor_data(*deq).data()), n);
    std::printf("%-7s rms error: ours %.5f, ggml %.5f\n", name, ours, ggml);
    EXPECT_LE(ours, factor * ggml);
  }
}

TEST_F(QuantZoo, ListsOnlyTypesWeRead) {
  const auto types = zoo_->get_string_array("zoo.types");
  ASSERT_TRUE(types.has_value());
  for (const auto& t : *types) EXPECT_TRUE(dtype_from_name(t).has_value()) << t;
  EXPECT_EQ(types->size(), std::size(kZooTypes));
}

}  // namespace
}  // namespace dseek
