// `dseek quantize` beyond models: any GGUF (the quant zoo, which is not a
// model) converted tensor by tensor to f32, each tensor equal to ggml's own
// dequantisation; the new writable types on a real model; read-only types refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "format/gguf.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(CliQuantizeTypes, AnyGgufToF32TensorByTensor) {
  const auto zoo = test::testdata_dir() / ".." / "quants" / "quant-zoo.gguf";
  if (test::testdata_dir().empty() || !std::filesystem::exists(zoo)) GTEST_SKIP() << "quant zoo not found at " << zoo;
  test::TempDir dir;
  auto r = run_dseek("quantize " + q(zoo) + " " + q(dir / "f.gguf") + " --type f32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto in = GgufFile::open(zoo.string());
  auto out = GgufFile::open((dir / "f.gguf").string());
  ASSERT_TRUE(in.ok() && out.ok());
  EXPECT_EQ(out->get_string_array("zoo.types"), in->get_string_array("zoo.types"));
  ASSERT_EQ(out->tensors().size(), in->tensors().size());
  int compared = 0;
  for (const auto& t : out->tensors()) {
    EXPECT_EQ(t.dtype, DType::kF32) << t.name;
    if (!t.name.ends_with(".q")) continue;
    const GgufTensorInfo* deq = in->find_tensor(t.name.substr(0, t.name.size() - 2) + ".deq");
    ASSERT_NE(deq, nullptr) << t.name;
    const auto a = out->tensor_data(t), b = in->tensor_data(*deq);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0) << t.name << " differs from ggml's dequantisation";
    ++compared;
  }
  EXPECT_EQ(compared, 21);
}

TEST(CliQuantizeTypes, NewWritableTypesRunAndReadOnlyOnesAreRefused) {
  test::TempDir dir;
  const auto m = dir / "m.gguf";
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 --preset small -o " + q(m)).exit_code, 0);
  for (const char* type : {"q2_k", "q3_k", "iq4_nl", "iq4_xs"}) {
    SCOPED_TRACE(type);
    auto r = run_dseek("quantize " + q(m) + " " + q(dir / "q.gguf") + " --type " + type);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto l = run_dseek("logits -m " + q(dir / "q.gguf") + " --tokens '5 17 300' -o " + q(dir / "l.bin"));
    ASSERT_EQ(l.exit_code, 0) << l.err;
    const std::string bytes = test::read_file(dir / "l.bin");
    ASSERT_FALSE(bytes.empty());
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    for (float x : v) ASSERT_TRUE(std::isfinite(x));
  }
  auto bad = run_dseek("quantize " + q(m) + " " + q(dir / "x.gguf") + " --type iq2_xxs");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("iq2_xxs"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

}  // namespace
}  // namespace dseek
