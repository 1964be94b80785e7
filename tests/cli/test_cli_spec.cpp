// `--spec` on the command line: `run` prints the same text with and without
// speculative decoding (greedy, on the trained default model, whose MTP layer
// drafts well), a model without MTP or an unknown method is an exit-2 error,
// and `bench --spec --json` reports the "spec" object.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

const std::string kDefaultModel =
    (std::filesystem::path(DSEEK_SOURCE_DIR) / "assets/shakespeare/dseek-shakespeare.gguf").string();

TEST(CliSpec, RunOutputIsTheSameWithDrafts) {
  const std::string base = "run -m '" + kDefaultModel + "' -p 'ROMEO:' -n 48 --temp 0 -t 2";
  const auto plain = run_dseek(base);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  for (const char* spec : {"mtp", "mtp:3", "ngram:2"}) {
    const auto r = run_dseek(base + " -v --spec " + spec);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, plain.out) << spec;
    EXPECT_NE(r.err.find("acceptance per draft position"), std::string::npos) << r.err;
  }
}

TEST(CliSpec, BadSpecIsAnError) {
  test::TempDir dir;
  const std::string path = (dir / "llama.gguf").string();
  ASSERT_EQ(run_dseek("init --arch llama -o '" + path + "'").exit_code, 0);
  const auto no_mtp = run_dseek("run -m '" + path + "' -p hi -n 4 --spec mtp");
  EXPECT_EQ(no_mtp.exit_code, 2);
  EXPECT_NE(no_mtp.err.find("--spec ngram"), std::string::npos) << no_mtp.err;
  for (const char* bad : {"eagle", "ngram:0", "mtp:x"}) {
    const auto r = run_dseek("run -m '" + path + "' -p hi -n 4 --spec " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
  }
}

TEST(CliSpec, BenchReportsSpeculation) {
  auto r = run_dseek("bench -m '" + kDefaultModel + "' -p 0 -n 24 -r 1 -t 2 --probe-gib 0.02 --spec mtp:2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto s = nlohmann::json::parse(r.out)["spec"];
  EXPECT_EQ(s["method"], "mtp");
  EXPECT_EQ(s["draft"], 2);
  ASSERT_EQ(s["acceptance"].size(), 2u);
  for (double a : s["acceptance"]) EXPECT_TRUE(a >= 0 && a <= 1);
  EXPECT_GT(s["tg_tps"].get<double>(), 0);
  EXPECT_GT(s["tg_tps_plain"].get<double>(), 0);
  EXPECT_TRUE(s["identical"].get<bool>());
  EXPECT_EQ(s["verify_cost"].size(), 3u);
}

}  // namespace
}  // namespace dseek
