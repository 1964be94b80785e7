// The SIMD decoders of the decoded-row types on llama.cpp's own rows: every
// row of every zoo type (../shared/quants/quant-zoo.gguf, read in place)
// decodes to the scalar decoder's integers and scales bit for bit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "format/gguf.h"
#include "kernels/decode_compare.h"

namespace dseek {
namespace {

TEST(QuantZooDecodeSimd, EveryZooRowDecodesAsTheScalarDecoder) {
  const char* env = std::getenv("DSEEK_TESTDATA");
  const std::string path = std::string(env ? env : DSEEK_TESTDATA) + "/../quants/quant-zoo.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "quant zoo not found at " << path;
  const auto tables = kernels::decoder_tables_here();
  if (tables.empty()) GTEST_SKIP() << "this CPU has no SIMD decoders (AVX-512BW)";
  auto zoo = GgufFile::open(path);
  ASSERT_TRUE(zoo.ok()) << zoo.status().message();
  int types = 0;
  for (const GgufTensorInfo& info : zoo->tensors()) {
    if (!kernels::decoded_format(info.dtype)) continue;
    const int64_t cols = info.ne[0], rows = info.n_elements() / cols;
    const uint64_t row_bytes = *dtype_bytes(info.dtype, cols);
    const auto raw = zoo->tensor_data(info);
    for (const auto& [isa, table] : tables)
      for (int64_t r = 0; r < rows; ++r)
        kernels::expect_same_decode(info.dtype, (*table)[info.dtype], raw.data() + r * row_bytes, cols,
                                    std::string(isa) + " " + info.name + " row " + std::to_string(r));
    ++types;
  }
  EXPECT_EQ(types, 16) << "the zoo's decoded-row types (all but mxfp4)";
}

}  // namespace
}  // namespace dseek
