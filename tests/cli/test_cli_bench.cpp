// `dseek bench --json` is a contract for other tools: the fields exist, are
// consistent with each other and with `dseek inspect`, and bad parameters are
// exit-2 errors. (Speeds themselves are measured, never asserted.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

TEST(CliBench, JsonFieldsAreConsistent) {
  test::TempDir dir;
  const std::string path = (dir / "m.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 --preset tiny --dtype q8_0 -o '" + path + "'").exit_code, 0);
  auto r = run_dseek("bench -m '" + path + "' -p 8 -n 4 -r 2 -t 2 --probe-gib 0.02 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["mode"], "auto");
  EXPECT_EQ(j["pp"]["n"], 8);
  EXPECT_EQ(j["tg"]["n"], 4);
  EXPECT_GT(j["pp"]["tps"].get<double>(), 0);
  EXPECT_GT(j["tg"]["tps"].get<double>(), 0);
  EXPECT_GE(j["tg"]["stdev"].get<double>(), 0);
  const double mem = j["memory_gbs"], achieved = j["achieved_gbs"], bytes = j["weight_bytes_per_token"];
  EXPECT_GT(mem, 0);
  EXPECT_DOUBLE_EQ(mem, std::max(j["memory_gbs_before"].get<double>(), j["memory_gbs_after"].get<double>()));
  EXPECT_NEAR(achieved, j["tg"]["tps"].get<double>() * bytes / 1e9, 1e-9 * (1 + achieved));
  EXPECT_NEAR(j["roofline_pct"].get<double>(), 100 * achieved / mem, 1e-9);
  EXPECT_GT(j["peak_rss_bytes"].get<double>(), 0);
  EXPECT_GE(j["huge_page_pct"].get<double>(), 0);
  EXPECT_LE(j["huge_page_pct"].get<double>(), 100);

  // Bytes and FLOPs per token against inspect's parameter counts: the matmul
  // parameters are the active ones less the embedding row and the 1-D norms.
  auto ins = run_dseek("inspect --json '" + path + "'");
  ASSERT_EQ(ins.exit_code, 0) << ins.err;
  const auto info = nlohmann::json::parse(ins.out);
  const double active = info["parameters"]["active_per_token"].get<double>();
  const double matmul_params = j["flops_per_token"].get<double>() / 2;
  EXPECT_LE(matmul_params, active);
  EXPECT_GT(matmul_params, 0.8 * active);
  EXPECT_LT(bytes, 1.2 * active);  // q8_0: ~1.06 bytes per weight, f32 norms and router aside
  EXPECT_GT(bytes, 0.9 * active);
  EXPECT_NEAR(j["pp_gflops"].get<double>(), j["pp"]["tps"].get<double>() * j["flops_per_token"].get<double>() / 1e9,
              1e-9 * (1 + j["pp_gflops"].get<double>()));
  // Prefill against the machine's measured int8 peak (0 only on a scalar-only CPU).
  const double peak = j["int8_peak_gops"];
  EXPECT_GE(peak, 0);
  if (peak > 0) {
    EXPECT_NEAR(j["pp_peak_pct"].get<double>(), 100 * j["pp_gflops"].get<double>() / peak, 1e-9);
  }
}

// Depth filled with random rows (timing only), a narrow cache, V3.2 forced dense: said in the JSON.
TEST(CliBench, DepthFillCacheTypeAndDenseAreReported) {
  test::TempDir dir;
  const std::string path = (dir / "v32.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v32 --preset tiny -o '" + path + "'").exit_code, 0);
  for (const std::string extra : {"", " --dense"}) {
    auto r = run_dseek("bench -m '" + path + "' -p 4 -n 2 -r 1 -t 1 --probe-gib 0.02 --json --depth 64 "
                       "--depth-fill random --cache-type fp8" + extra);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["depth"], 64);
    EXPECT_EQ(j["depth_fill"], "random");
    EXPECT_EQ(j["cache_type"], "fp8");
    EXPECT_EQ(j["dense_attention"], !extra.empty());
    EXPECT_GT(j["tg"]["tps"].get<double>(), 0);
    EXPECT_GT(j["peak_rss_bytes"].get<double>(), 0);
  }
  EXPECT_EQ(run_dseek("bench -m '" + path + "' --depth 8 --depth-fill zeros").exit_code, 2);
}

TEST(CliBench, MemoryModeProbesBandwidthAndInt8Peak) {
  auto r = run_dseek("bench --memory -t 1 --probe-gib 0.02 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_GT(j["memory_gbs"].get<double>(), 0);
  EXPECT_GE(j["int8_peak_gops"].get<double>(), 0);
  EXPECT_FALSE(j.contains("pp"));
}

// --depth: pp and tg measured after that many cached tokens (V3.2 tiny: index_topk 8,
// so the runs are sparse); a depth past the context is an error.
TEST(CliBench, DepthRunsAfterCachedTokens) {
  test::TempDir dir;
  const std::string path = (dir / "v32.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v32 --preset tiny -o '" + path + "'").exit_code, 0);
  auto r = run_dseek("bench -m '" + path + "' --depth 40 -p 8 -n 4 -r 2 -t 2 --probe-gib 0.02 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["depth"], 40);
  EXPECT_GT(j["pp"]["tps"].get<double>(), 0);
  EXPECT_GT(j["tg"]["tps"].get<double>(), 0);
  auto text = run_dseek("bench -m '" + path + "' --depth 16 -p 4 -n 2 -r 1 -t 1 --probe-gib 0.02");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("after 16 cached tokens"), std::string::npos) << text.out;
  auto past = run_dseek("bench -m '" + path + "' --depth 4095 -p 8 -n 4 --probe-gib 0.02");
  EXPECT_EQ(past.exit_code, 2);
  EXPECT_NE(past.err.find("--depth"), std::string::npos) << past.err;
}

TEST(CliBench, BadParametersAreErrors) {
  for (const char* args : {"bench --memory --probe-gib 1000", "bench --memory -r 0", "bench -p 5", "bench --memory -t -3",
                           "bench --memory --mode flash"}) {
    auto r = run_dseek(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.out;
    EXPECT_FALSE(r.err.empty()) << args;
  }
}

}  // namespace
}  // namespace dseek
