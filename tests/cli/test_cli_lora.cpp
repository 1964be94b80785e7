// LoRA adapters at run time (`logits --lora`) against `merge-lora`, a zero B
// giving the base model's logits bit for bit, and adapters that do not fit
// the base model rejected with exit 2 and the tensor named.
#include <gtest/gtest.h>

#include <cstring>

#include "format/gguf.h"
#include "model/lora_adapter.h"
#include "support/test_support.h"
#include "train/param.h"

namespace dseek {
namespace {

struct Fixture {
  test::TempDir dir;
  std::string base = (dir / "base.gguf").string();
  Fixture() {
    auto r = test::run_dseek("init --arch deepseek-v3 --preset tiny --dtype f32 --seed 5 -o " + base);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  // An adapter on every supported 2-D tensor of the base (random A; B random or zero).
  std::string adapter(const std::string& name, int64_t rank, float alpha, uint64_t seed, bool zero_b) {
    auto g = GgufFile::open(base);
    EXPECT_TRUE(g.ok());
    LoraAdapterFile f;
    f.architecture = "deepseek2";
    f.alpha = alpha;
    train::Rng rng(seed);
    for (const auto& t : g->tensors()) {
      if (t.ne.size() != 2 || !lora_target_supported(t.name)) continue;
      LoraPairData p;
      p.base = t.name, p.rows = t.ne[1], p.cols = t.ne[0], p.rank = rank;
      for (int64_t i = 0; i < rank * p.cols; ++i) p.a.push_back(static_cast<float>(0.3 * rng.normal()));
      for (int64_t i = 0; i < p.rows * rank; ++i) p.b.push_back(zero_b ? 0.0f : static_cast<float>(0.3 * rng.normal()));
      f.pairs.push_back(std::move(p));
    }
    EXPECT_GT(f.pairs.size(), 4u);
    const std::string path = (dir / name).string();
    EXPECT_TRUE(write_lora_adapter(f, path).ok());
    return path;
  }
  std::vector<float> logits(const std::string& model, const std::string& extra) {
    const std::string out = (dir / "logits.bin").string();
    auto r = test::run_dseek("logits -m " + model + " --tokens \"1 7 30 2 9 11\" -t 2 -o " + out + " " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string bytes = test::read_file(out);
    std::vector<float> v(bytes.size() / sizeof(float));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
    return v;
  }
};

TEST(CliLora, RunTimeAdaptersEqualTheMergedModel) {
  Fixture f;
  const std::string a1 = f.adapter("a1.gguf", 3, 6, 1, false), a2 = f.adapter("a2.gguf", 2, 0, 2, false);
  const auto base = f.logits(f.base, "");
  const auto adapted = f.logits(f.base, "--lora " + a1 + ":0.7 --lora " + a2);
  const std::string merged = (f.dir / "merged.gguf").string();
  auto r = test::run_dseek("merge-lora " + f.base + " " + a1 + ":0.7 " + a2 + " -o " + merged);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto from_merged = f.logits(merged, "");
  ASSERT_EQ(adapted.size(), from_merged.size());
  double max_change = 0;
  for (size_t i = 0; i < adapted.size(); ++i) {
    EXPECT_NEAR(adapted[i], from_merged[i], 2e-4 * (1 + std::abs(from_merged[i]))) << i;
    max_change = std::max(max_change, static_cast<double>(std::abs(adapted[i] - base[i])));
  }
  EXPECT_GT(max_change, 0.05);  // the adapters do change the model
}

TEST(CliLora, ZeroBGivesTheBaseLogitsBitForBit) {
  Fixture f;
  const std::string z = f.adapter("zero.gguf", 4, 8, 3, true);
  const auto base = f.logits(f.base, ""), adapted = f.logits(f.base, "--lora " + z);
  ASSERT_EQ(base.size(), adapted.size());
  EXPECT_EQ(std::memcmp(base.data(), adapted.data(), base.size() * sizeof(float)), 0);
}

TEST(CliLora, MismatchedAdaptersAreRejected) {
  Fixture f;
  auto write_one = [&](const std::string& name, const std::string& tensor, int64_t rows, int64_t cols) {
    LoraAdapterFile a;
    a.architecture = "deepseek2";
    a.alpha = 1;
    LoraPairData p;
    p.base = tensor, p.rows = rows, p.cols = cols, p.rank = 1;
    p.a.assign(static_cast<size_t>(cols), 0.1f);
    p.b.assign(static_cast<size_t>(rows), 0.1f);
    a.pairs.push_back(p);
    const std::string path = (f.dir / name).string();
    EXPECT_TRUE(write_lora_adapter(a, path).ok());
    return path;
  };
  auto g = GgufFile::open(f.base);
  ASSERT_TRUE(g.ok());
  const GgufTensorInfo* out = g->find_tensor("blk.0.attn_output.weight");
  ASSERT_NE(out, nullptr);
  const struct {
    std::string file, want;
  } cases[] = {
      {write_one("name.gguf", "blk.99.attn_output.weight", out->ne[1], out->ne[0]), "does not exist in the base model"},
      {write_one("shape.gguf", "blk.0.attn_output.weight", out->ne[1] + 1, out->ne[0]), "another shape"},
      {write_one("exps.gguf", "blk.1.ffn_gate_exps.weight", 4, 4), "cannot carry an adapter"}};
  for (const auto& c : cases) {
    for (const std::string& cmd : {"logits -m " + f.base + " --tokens \"1 2\" -o " + (f.dir / "x.bin").string() + " --lora " + c.file,
                                  "merge-lora " + f.base + " " + c.file + " -o " + (f.dir / "m.gguf").string()}) {
      auto r = test::run_dseek(cmd);
      EXPECT_EQ(r.exit_code, 2) << cmd;
      EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    }
  }
  auto r = test::run_dseek("run -m " + f.base + " -p hi -n 1 --lora " + f.base);  // a model, not an adapter
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("general.type is not \"adapter\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dseek
