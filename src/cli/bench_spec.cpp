// See bench_spec.h.
#include "cli/bench_spec.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "runtime/generate.h"

namespace dseek::cli {
namespace {

std::vector<int32_t> fixed_prompt(int64_t n_vocab) {
  std::vector<int32_t> p = {static_cast<int32_t>(1 % n_vocab)};
  for (int i = 1; i < 16; ++i) p.push_back(static_cast<int32_t>((i * 7919 + 3) % n_vocab));
  return p;
}

Result<GenerateResult> greedy(const Model& m, ThreadPool& pool, std::span<const int32_t> prompt, int tg,
                              const SpecConfig& spec) {
  SamplingParams sp;
  sp.temperature = 0;
  Sampler s(sp);
  GenerateOptions opt;
  opt.max_new_tokens = tg;
  opt.n_ctx = static_cast<int64_t>(prompt.size()) + tg + 1;
  opt.spec = spec;
  return generate(m, pool, prompt, s, opt, nullptr);
}

// Best-of-reps seconds for one forward of n new tokens (all rows' logits) after `ctx` cached tokens.
Result<double> forward_seconds(const Model& m, ThreadPool& pool, std::span<const int32_t> ctx, int64_t n, int reps) {
  KvCache cache = m.new_cache(static_cast<int64_t>(ctx.size()) + n);
  std::vector<float> logits(static_cast<size_t>(n * m.n_vocab()));
  ForwardOptions prefill;
  prefill.all_logits = false;
  if (Status st = m.forward(ctx, cache, pool, prefill, logits.data()); !st.ok()) return st;
  const ForwardOptions fo;  // verification wants every row's logits
  std::vector<int32_t> toks(ctx.begin(), ctx.begin() + n);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    if (Status st = m.forward(toks, cache, pool, fo, logits.data()); !st.ok()) return st;
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cache.n_past = static_cast<int64_t>(ctx.size());
  }
  return best;
}

}  // namespace

Result<SpecBench> bench_speculative(const Model& m, ThreadPool& pool, const SpecConfig& config, int tg, int reps) {
  const auto prompt = fixed_prompt(m.n_vocab());
  SpecBench b;
  b.config = config;
  auto plain = greedy(m, pool, prompt, tg, SpecConfig{});
  if (!plain.ok()) return plain.status();
  auto spec = greedy(m, pool, prompt, tg, config);
  if (!spec.ok()) return spec.status();
  b.tokens = static_cast<int64_t>(spec->tokens.size());
  b.steps = spec->spec.steps;
  b.identical = spec->tokens == plain->tokens;
  b.tg_tps_plain = static_cast<double>(plain->tokens.size()) / std::max(plain->decode_seconds, 1e-9);
  b.tg_tps = static_cast<double>(b.tokens) / std::max(spec->decode_seconds, 1e-9);
  for (size_t i = 0; i < spec->spec.proposed.size(); ++i) b.acceptance.push_back(spec->spec.acceptance(i));
  // Verification cost at the context the continuation reached.
  std::vector<int32_t> ctx = prompt;
  ctx.insert(ctx.end(), plain->tokens.begin(), plain->tokens.end());
  const int64_t n_max = std::min<int64_t>(config.draft + 1, static_cast<int64_t>(ctx.size()));
  double one = 0;
  for (int64_t n = 1; n <= n_max; ++n) {
    auto s = forward_seconds(m, pool, ctx, n, std::max(reps, 3) * 3);
    if (!s.ok()) return s.status();
    if (n == 1) one = *s;
    b.verify_cost.push_back(*s / std::max(one, 1e-12));
  }
  return b;
}

nlohmann::json spec_json(const SpecBench& b) {
  return {{"method", spec_method_name(b.config.method)}, {"draft", b.config.draft}, {"acceptance", b.acceptance},
          {"tg_tps", b.tg_tps}, {"tg_tps_plain", b.tg_tps_plain}, {"tokens", b.tokens}, {"steps", b.steps},
          {"identical", b.identical}, {"verify_cost", b.verify_cost}};
}

void print_spec(const SpecBench& b) {
  std::printf("spec %s:%lld: tg %.2f tokens/s vs %.2f plain (%.2fx), %lld tokens in %lld forwards, output %s\n",
              spec_method_name(b.config.method), static_cast<long long>(b.config.draft), b.tg_tps, b.tg_tps_plain,
              b.tg_tps / std::max(b.tg_tps_plain, 1e-9), static_cast<long long>(b.tokens),
              static_cast<long long>(b.steps), b.identical ? "identical" : "DIFFERENT");
  std::printf("acceptance per draft position:");
  for (double a : b.acceptance) std::printf(" %.2f", a);
  std::printf("\nforward cost of n new tokens / 1 token, n = 1..%zu:", b.verify_cost.size());
  for (double c : b.verify_cost) std::printf(" %.2f", c);
  std::printf("\n");
}

}  // namespace dseek::cli
