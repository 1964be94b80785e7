// Data safety of the model commands: hyper-parameters a model file declares
// are range-checked (a 2^31-token context is a clear error, not
// std::bad_alloc); the attention cache is sized to the run and checked against
// memory before it is allocated; a writer never replaces one of its inputs,
// however the output path reaches it (./path, symbolic link, hard link).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "format/gguf_bytes.h"
#include "support/test_support.h"

namespace dseek {
namespace {

namespace fs = std::filesystem;
using test::run_dseek;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// A tiny llama model in `dir` whose declared context length is `n_ctx`.
fs::path model_with_context(const test::TempDir& dir, const std::string& name, uint32_t n_ctx) {
  const fs::path m = dir / name;
  auto r = run_dseek("init --arch llama --preset tiny --seed 3 -o " + q(m));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(test::set_gguf_u32(m.string(), "llama.context_length", n_ctx));
  return m;
}

TEST(CliFileSafety, AbsurdContextLengthIsAClearError) {
  test::TempDir dir;
  const fs::path m = model_with_context(dir, "huge.gguf", 0x7fffffff);
  auto run = run_dseek("run -m " + q(m) + " -p hi -n 2 --temp 0");
  EXPECT_EQ(run.exit_code, 2) << run.err;  // the old binary aborted with std::bad_alloc (134)
  EXPECT_NE(run.err.find("context_length"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("2147483647"), std::string::npos) << run.err;
  auto quant = run_dseek("quantize " + q(m) + " " + q(dir / "q.gguf") + " --type q8_0");
  EXPECT_EQ(quant.exit_code, 2) << quant.err;
  EXPECT_NE(quant.err.find("context_length"), std::string::npos) << quant.err;
  EXPECT_FALSE(fs::exists(dir / "q.gguf"));
  auto inspect = run_dseek("inspect --no-tensors " + q(m));
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;  // still described, with a warning
  EXPECT_NE(inspect.err.find("warning"), std::string::npos) << inspect.err;
  EXPECT_NE(inspect.err.find("context_length"), std::string::npos) << inspect.err;
}

TEST(CliFileSafety, RunSizesItsCacheToTheRequest) {
  test::TempDir dir;
  // 2^21 positions are in range; reserving them all would take ~1 GB for this model.
  const fs::path m = model_with_context(dir, "long.gguf", 1u << 21);
  const fs::path ref = model_with_context(dir, "short.gguf", 2048);
  auto a = run_dseek("run -m " + q(m) + " -p 'the cat' -n 6 --temp 0 -t 1");
  auto b = run_dseek("run -m " + q(ref) + " -p 'the cat' -n 6 --temp 0 -t 1");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out) << "the cache's size must not change the output";
  // A context no machine holds is refused before allocating, naming the flag to lower.
  auto big = run_dseek("run -m " + q(m) + " -p hi -n 2 -c 1099511627776");
  EXPECT_EQ(big.exit_code, 2) << big.err;  // the old binary aborted with std::bad_alloc (134)
  EXPECT_NE(big.err.find("--ctx-size"), std::string::npos) << big.err;
}

TEST(CliFileSafety, ServeChecksItsPagePoolBeforeAllocating) {
  test::TempDir dir;
  const fs::path m = model_with_context(dir, "m.gguf", 2048);
  // 256 slots of 2^20 positions: far more cache than any test machine holds. The
  // server must refuse before allocating (or binding), naming the flags to lower.
  auto r = run_dseek("serve -m " + q(m) + " --port 1 --parallel 256 --ctx 1048576");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--ctx or --parallel"), std::string::npos) << r.err;
}

TEST(CliFileSafety, QuantizeNeverReplacesItsInput) {
  test::TempDir dir;
  const fs::path m = dir / "m.gguf";
  ASSERT_EQ(run_dseek("init --arch llama --preset tiny --seed 5 -o " + q(m)).exit_code, 0);
  const std::string before = test::read_file(m);
  fs::create_symlink("m.gguf", dir / "link.gguf");
  fs::create_hard_link(m, dir / "hard.gguf");
  const std::string same_dir = (dir.path() / "." / "m.gguf").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {m.string(), same_dir},                       // the same path spelled differently
      {m.string(), (dir / "link.gguf").string()},   // the output is a symlink to the input
      {(dir / "link.gguf").string(), m.string()},   // the input is a symlink to the output
      {m.string(), (dir / "hard.gguf").string()},   // a hard link: same inode
  };
  for (const auto& [in, out] : cases) {
    auto r = run_dseek("quantize '" + in + "' '" + out + "' --type q8_0");
    EXPECT_EQ(r.exit_code, 2) << in << " -> " << out;
    EXPECT_NE(r.err.find("same file"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(test::read_file(m) == before) << "the input changed";
  EXPECT_TRUE(fs::is_symlink(dir / "link.gguf"));
  EXPECT_EQ(fs::hard_link_count(m), 2u);
  // A different file is fine.
  auto ok = run_dseek("quantize " + q(m) + " " + q(dir / "q.gguf") + " --type q8_0");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // The other writers check too.
  auto logits = run_dseek("logits -m " + q(m) + " --tokens '1 2' -o " + q(dir / "link.gguf"));
  EXPECT_EQ(logits.exit_code, 2);
  EXPECT_TRUE(test::read_file(m) == before) << "the input changed";
}

// A file larger than the disk's free space is refused before a byte is
// written (V3.2's real shapes in f32 are 2.7 TB): the old binary wrote until
// the disk was full. With --layers the same shapes fit for benchmarks.
TEST(CliFileSafety, InitRefusesAFileTheDiskCannotHold) {
  test::TempDir dir;
  const fs::path out = dir / "v32.gguf";
  auto r = run_dseek("init --arch deepseek-v32 --preset v32 -o " + q(out));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is free on"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));
}

TEST(CliFileSafety, InitLayersOverridesThePreset) {
  test::TempDir dir;
  const fs::path out = dir / "v3-1layer.gguf";
  auto r = run_dseek("init --arch deepseek-v3 --preset small --layers 1 --mtp 0 -o " + q(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto inspect = run_dseek("inspect --json --no-tensors " + q(out));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto j = nlohmann::json::parse(inspect.out);
  bool seen = false;
  for (const auto& kv : j["hyper_parameters"])
    if (kv[0] == "n_layer") {
      seen = true;
      EXPECT_EQ(kv[1], "1");
    }
  EXPECT_TRUE(seen) << inspect.out;
  for (const char* bad : {"0", "-3", "5000"}) {
    auto b = run_dseek(std::string("init --arch llama --preset tiny --layers ") + bad + " -o " + q(dir / "bad.gguf"));
    EXPECT_EQ(b.exit_code, 2) << bad;
    EXPECT_NE(b.err.find("--layers"), std::string::npos) << b.err;
  }
}

}  // namespace
}  // namespace dseek
