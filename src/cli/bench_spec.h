// `dseek bench --spec ngram|mtp[:N]`: generation speed with and without
// speculative decoding in the same run, on the model's own greedy
// continuation of a fixed prompt, the acceptance rate per draft position, and
// what verifying n tokens in one forward costs relative to one.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "model/model.h"
#include "runtime/speculative.h"

namespace dseek::cli {

struct SpecBench {
  SpecConfig config;
  int64_t tokens = 0, steps = 0;
  std::vector<double> acceptance;   // per draft position
  double tg_tps = 0, tg_tps_plain = 0;
  bool identical = false;           // the speculative output equals the plain one
  std::vector<double> verify_cost;  // [n-1]: time of a forward over n new tokens / time over 1, n = 1..N+1
};

Result<SpecBench> bench_speculative(const Model& m, ThreadPool& pool, const SpecConfig& config, int tg, int reps);
nlohmann::json spec_json(const SpecBench& b);
void print_spec(const SpecBench& b);

}  // namespace dseek::cli
