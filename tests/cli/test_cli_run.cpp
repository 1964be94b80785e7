// `dseek run` end to end on the real trained stories260K model: greedy output
// equals llama2.c's reference texts byte for byte; seeded sampling repeats;
// bad parameters are exit code 2 with a message.
#include <gtest/gtest.h>

#include <sstream>

#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

size_t count_ids(const std::string& text, const std::string& key) {
  const auto p = text.find(key);
  std::istringstream in(text.substr(p + key.size(), text.find('\n', p) - p - key.size()));
  size_t n = 0;
  for (int v; in >> v;) ++n;
  return n;
}

TEST(CliRun, Stories260KGreedyEqualsLlama2cOutput) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata not found";
  const std::string model = (dir / "llama2c/stories260K.gguf").string();
  struct Case {
    const char* name;
    const char* prompt;
  };
  int matched = 0;
  for (const Case& c : {Case{"t0_n64_once_upon_a_time", "Once upon a time"}, Case{"t0_n64_lily_wanted", "Lily wanted"},
                        Case{"t0_n64_the_little_dog", "The little dog"}, Case{"t0_n200_no_prompt", ""},
                        Case{"t0_n256_no_prompt", ""}}) {
    const std::string ids = test::read_file(dir / "llama2c/reference" / (std::string(c.name) + ".ids"));
    const size_t n_new = count_ids(ids, "sequence_ids:") - count_ids(ids, "prompt_ids:");
    auto r = run_dseek("run -m '" + model + "' -p '" + c.prompt + "' -n " + std::to_string(n_new) + " --temp 0 -t 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // run.c prints the prompt, the continuation and a final newline.
    const std::string want = test::read_file(dir / "llama2c/reference" / (std::string(c.name) + ".out"));
    EXPECT_EQ(std::string(c.prompt) + r.out + "\n", want) << c.name;
    matched += std::string(c.prompt) + r.out + "\n" == want;
  }
  std::printf("dseek run: %d/5 llama2.c reference texts reproduced byte for byte\n", matched);
}

TEST(CliRun, SeededSamplingRepeatsAndBadParametersFail) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata not found";
  const std::string model = (dir / "llama2c/stories260K.gguf").string();
  const std::string args = "run -m '" + model + "' -p 'Once upon a time' -n 40 --temp 0.9 --top-p 0.9 --top-k 40 --min-p 0.02 ";
  auto a = run_dseek(args + "--seed 5"), b = run_dseek(args + "--seed 5"), c = run_dseek(args + "--seed 6");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  EXPECT_FALSE(a.out.empty());
  for (const char* bad : {"--temp -1", "--top-p 0", "--top-p 1.5", "--min-p 2", "--repeat-penalty 0", "-n -5", "-t 5000"}) {
    auto r = run_dseek("run -m '" + model + "' -p hi " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("dseek"), std::string::npos) << bad;
  }
  auto missing = run_dseek("run -m /nonexistent.gguf -p hi");
  EXPECT_EQ(missing.exit_code, 2);
}

TEST(CliRun, GeneratedModelRunsEndToEnd) {
  test::TempDir dir;
  const auto model = (dir / "m.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 -o '" + model + "'").exit_code, 0);
  auto r = run_dseek("run -m '" + model + "' -p 'Hello world' -n 16 --seed 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  // Read into memory instead of mapped: the same weights, the same text.
  auto read = run_dseek("run -m '" + model + "' -p 'Hello world' -n 16 --seed 1 --no-mmap");
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out, r.out);
  auto locked = run_dseek("run -m '" + model + "' -p 'Hello world' -n 16 --seed 1 --mlock");
  if (locked.exit_code == 0) EXPECT_EQ(locked.out, r.out);
  else EXPECT_NE(locked.err.find("ulimit -l"), std::string::npos) << locked.err;  // a low memlock limit: said, not crashed
}

// Reaching -c is the end of the output, not an error: exit 0 with a note on stderr.
// --cache-type takes the three types and refuses others with exit 2.
TEST(CliRun, FullContextStopsWithANoteAndCacheTypesRun) {
  test::TempDir dir;
  const auto model = (dir / "m.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 --preset tiny -o '" + model + "'").exit_code, 0);
  {  // (--chat prints through the same path; this random model's chat turn ends at once with its stop token)
    auto r = run_dseek("run -m '" + model + "' -p 'Hello' -n 500 -c 40 --temp 0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("the context of 40 tokens is full"), std::string::npos) << r.err;
  }
  for (const std::string type : {"f32", "bf16", "fp8"}) {
    auto r = run_dseek("run -m '" + model + "' -p 'Hello' -n 8 --temp 0 --cache-type " + type);
    EXPECT_EQ(r.exit_code, 0) << type << r.err;
  }
  EXPECT_EQ(run_dseek("run -m '" + model + "' -p 'Hello' -n 8 --cache-type f16").exit_code, 2);
}

}  // namespace
}  // namespace dseek
