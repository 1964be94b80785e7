// `dseek bench`: prompt-processing and token-generation speed of a model,
// weight bytes read per generated token, achieved bandwidth against the
// machine's own measured read bandwidth, prefill FLOP rate against its own
// measured int8 peak (`--memory` runs the two probes alone).
// `--json` prints one object (a contract for other tools).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli/bench_spec.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/ep_options.h"
#include "cli/tools/compute_probe.h"
#include "cli/tools/memory_probe.h"
#include "model/common_tensors.h"
#include "model/model.h"
#include "runtime/cache_budget.h"

namespace dseek::cli {
namespace {

struct Stat {
  double mean = 0, stdev = 0;
};

Stat stats(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x / static_cast<double>(v.size());
  for (double x : v) s.stdev += (x - s.mean) * (x - s.mean);
  s.stdev = v.size() > 1 ? std::sqrt(s.stdev / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

// Bytes of weights one decoded token reads: every tensor at its active share
// (routed experts at K/X), one embedding row, no MTP.
double weight_bytes_per_token(const ModelFiles& f) {
  double total = 0;
  for (const auto& t : f.weights.tensors()) {
    if (f.arch->is_mtp_tensor(t.name)) continue;
    if (common_tensors::is_token_embedding(t.name)) {
      total += static_cast<double>(t.data.size()) / static_cast<double>(t.shape.front());
      continue;
    }
    total += static_cast<double>(t.data.size()) * f.arch->active_fraction(t.name);
  }
  return total;
}

// Parameters a token multiplies by (2-D tensors at their active share, the
// embedding excluded: it is a lookup; no MTP): 2x this is the nominal FLOPs per token.
double active_matmul_params(const ModelFiles& f) {
  double total = 0;
  for (const auto& t : f.weights.tensors()) {
    if (f.arch->is_mtp_tensor(t.name) || t.shape.size() < 2 || common_tensors::is_token_embedding(t.name)) continue;
    double elems = 1;
    for (int64_t d : t.shape) elems *= static_cast<double>(d);
    total += elems * f.arch->active_fraction(t.name);
  }
  return total;
}

double tensor_bytes(const ModelFiles& f) {
  double total = 0;
  for (const auto& t : f.weights.tensors()) total += static_cast<double>(t.data.size());
  return total;
}

// Bytes of this process mapped with 2 MiB pages (file and anonymous), from
// /proc/self/smaps_rollup; 0 where the kernel does not report it.
uint64_t huge_page_mapped_bytes() {
  std::FILE* f = std::fopen("/proc/self/smaps_rollup", "r");
  if (!f) return 0;
  char line[256];
  uint64_t total = 0;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long kb = 0;
    if (std::sscanf(line, "FilePmdMapped: %llu kB", &kb) == 1 || std::sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
      total += kb * 1024;
  }
  std::fclose(f);
  return total;
}

uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

struct BenchArgs {
  std::string model_path;
  int pp = 512, tg = 128, threads = 0, reps = 3, depth = 0;
  double probe_gib = 2.0;
  std::string mode = "auto", spec;
  bool json = false, memory_only = false;
  MapOptions map;
  EpOptions ep;
  KvCacheType cache_type = KvCacheType::kF32;
  std::string depth_fill = "real";
  bool dense = false;
};

void add_options(CLI::App& app, BenchArgs& a) {
  app.add_option("-m,--model", a.model_path, "GGUF file or model directory");
  app.add_option("-p,--prompt", a.pp, "prompt tokens per pp run (0: skip)")->capture_default_str();
  app.add_option("-n,--gen", a.tg, "generated tokens per tg run (0: skip)")->capture_default_str();
  app.add_option("-t,--threads", a.threads, "threads (default: all cores)");
  app.add_option("-r,--reps", a.reps, "repetitions")->capture_default_str();
  app.add_option("--depth", a.depth, "tokens already cached before each pp and tg run (filled once, untimed): "
                                     "attention cost at long context")->capture_default_str();
  app.add_option("--probe-gib", a.probe_gib, "size of the bandwidth probe's array in GiB")->capture_default_str();
  app.add_flag("--memory", a.memory_only, "only probe the machine: read bandwidth and int8 peak");
  app.add_flag("--json", a.json, "one JSON object on stdout");
  app.add_option("--spec", a.spec, "also time -n tokens with speculative decoding, ngram[:N] or mtp[:N], against plain greedy");
  app.add_option("--mode", a.mode, kAttentionModeHelp)->capture_default_str();
  add_cache_type_option(app, &a.cache_type);
  add_ep_options(app, &a.ep);
  app.add_option("--depth-fill", a.depth_fill, "how --depth is filled: real (a prefill) | random (random cache rows: "
                                                "timing only, for depths a CPU cannot prefill)")
      ->check(CLI::IsMember({"real", "random"}))
      ->capture_default_str();
  app.add_flag("--dense", a.dense, "DeepSeek-V3.2: attend to every key (indexer skipped), to compare with sparse attention");
  app.add_flag("--mlock", a.map.lock, "lock the weights in RAM so they are never paged out");
  app.add_flag("--no-mmap", a.map.read_into_memory, "read the weights into memory at start instead of mapping the file");
}

// The machine's own limits, measured twice: before the runs and after them.
struct Probes {
  double mem_gbs = 0, mem_before = 0, mem_after = 0, peak_gops = 0;
  uint64_t peak_rss = 0;
};

uint64_t probe_bytes(const BenchArgs& a) { return static_cast<uint64_t>(a.probe_gib * (1ull << 30)); }

int print_probes_only(const BenchArgs& a, int n_threads, nlohmann::json& out, const Probes& pr) {
  if (a.json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("read bandwidth (best of 5, %d threads, %.1f GiB): %.1f GB/s\n", n_threads, a.probe_gib, pr.mem_gbs);
    std::printf("int8 dot peak (register-only, best of 5, %d threads): %.0f GOP/s\n", n_threads, pr.peak_gops);
  }
  return kExitOk;
}

// Fills the first `depth` positions of `cache` with a varied prompt, untimed.
Status fill_depth(const Model& m, ThreadPool& pool, const ForwardOptions& opt, int depth, KvCache& cache,
                  std::vector<float>& logits) {
  constexpr int kChunk = 512;
  std::vector<int32_t> toks(kChunk);
  for (int done = 0; done < depth; done += kChunk) {
    const int n = std::min(kChunk, depth - done);
    for (int i = 0; i < n; ++i) toks[static_cast<size_t>(i)] = static_cast<int32_t>(((done + i) * 104729 + 3) % m.n_vocab());
    if (Status st = m.forward(std::span<const int32_t>(toks.data(), static_cast<size_t>(n)), cache, pool, opt, logits.data());
        !st.ok())
      return st;
  }
  return ok_status();
}

// Fills the first `depth` positions of every layer of `cache` with random
// bytes, untimed: timing only (the logits mean nothing). Every byte is one of
// +-[0x38, 0x47], so whatever a row holds there — f32, bf16 pairs, E4M3 codes,
// the scales — reads as a normal number of modest size: no NaN, no
// denormal to slow the arithmetic down, nothing the real rows would not be.
void fill_depth_random(int depth, KvCache& cache) {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int64_t layer = 0; layer < cache.n_layer(); ++layer)
    for (int64_t pos = 0; pos < depth; ++pos) {
      auto* bytes = reinterpret_cast<uint8_t*>(cache.row(layer, pos));
      for (int64_t i = 0; i < cache.width() * 4; ++i) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
        bytes[i] = static_cast<uint8_t>(0x38 + (state >> 59) % 16) | static_cast<uint8_t>((state >> 32) & 0x80);
      }
    }
  cache.n_past = depth;
}

// The cache a run starts from: the shared one rewound to its depth, or a fresh one.
KvCache& start_cache(const Model& m, KvCache* at_depth, int depth, int64_t n_ctx, std::optional<KvCache>& own) {
  if (!at_depth) return own.emplace(m.new_cache(n_ctx));
  at_depth->n_past = depth;  // the run overwrites the rows after the depth
  return *at_depth;
}

// One prompt of `pp` tokens (varied per repetition), timed.
Result<double> time_prefill(const Model& m, ThreadPool& pool, const ForwardOptions& opt, int pp, int rep,
                            std::vector<float>& logits, KvCache* at_depth, int depth) {
  const int64_t V = m.n_vocab();
  std::vector<int32_t> toks(static_cast<size_t>(pp));
  for (int i = 0; i < pp; ++i) toks[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7919 + rep) % V);
  std::optional<KvCache> own;
  KvCache& cache = start_cache(m, at_depth, depth, pp, own);
  const auto t0 = std::chrono::steady_clock::now();
  if (Status st = m.forward(toks, cache, pool, opt, logits.data()); !st.ok()) return st;
  return pp / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// `tg` greedy decode steps from one token, timed.
Result<double> time_decode(const Model& m, ThreadPool& pool, const ForwardOptions& opt, int tg,
                           std::vector<float>& logits, KvCache* at_depth, int depth) {
  std::optional<KvCache> own;
  KvCache& cache = start_cache(m, at_depth, depth, tg + 1, own);
  int32_t tok = 1 % static_cast<int32_t>(m.n_vocab());
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < tg; ++i) {
    Status st = m.forward(std::span<const int32_t>(&tok, 1), cache, pool, opt, logits.data());
    if (!st.ok()) return st;
    tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  return tg / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Timings {
  std::vector<double> pp_tps, tg_tps;
};

Result<Timings> time_runs(const Model& m, ThreadPool& pool, const BenchArgs& a, AttentionMode attention) {
  std::vector<float> logits(static_cast<size_t>(m.n_vocab()));
  ForwardOptions last_only;
  last_only.all_logits = false;
  last_only.mode = attention;
  std::optional<KvCache> deep;
  if (a.depth > 0) {
    deep.emplace(m.new_cache(a.depth + std::max(a.pp, a.tg + 1)));
    if (a.depth_fill == "random") fill_depth_random(a.depth, *deep);
    else if (Status st = fill_depth(m, pool, last_only, a.depth, *deep, logits); !st.ok()) return st;
  }
  KvCache* at_depth = deep ? &*deep : nullptr;
  Timings t;
  for (int r = 0; r < a.reps; ++r) {
    if (a.pp > 0) {
      auto tps = time_prefill(m, pool, last_only, a.pp, r, logits, at_depth, a.depth);
      if (!tps.ok()) return tps.status();
      t.pp_tps.push_back(*tps);
    }
    if (a.tg > 0) {
      auto tps = time_decode(m, pool, last_only, a.tg, logits, at_depth, a.depth);
      if (!tps.ok()) return tps.status();
      t.tg_tps.push_back(*tps);
    }
  }
  return t;
}

// Bandwidth and clock drift on shared machines: probe again after the runs, keep the better figure.
void probe_again(ThreadPool& pool, const BenchArgs& a, Probes& pr) {
  // Read before the second probe, whose array would otherwise count as the model's.
  pr.peak_rss = peak_rss_bytes();
  pr.mem_after = measure_read_bandwidth_gbs(pool, probe_bytes(a), 5);
  pr.mem_before = pr.mem_gbs;
  pr.mem_gbs = std::max(pr.mem_gbs, pr.mem_after);
  pr.peak_gops = std::max(pr.peak_gops, measure_int8_peak_gops(pool, 5));
}

// What the figures mean: bytes and FLOPs per token against the probed limits.
struct Figures {
  Stat pp, tg;
  double bytes = 0, flops_per_token = 0, huge_share = 0, achieved = 0, pp_gflops = 0, pp_peak_pct = 0;
};

Figures figures(const ModelFiles& f, const Timings& t, const Probes& pr) {
  Figures g;
  g.pp = stats(t.pp_tps);
  g.tg = stats(t.tg_tps);
  g.bytes = weight_bytes_per_token(f);
  g.flops_per_token = 2 * active_matmul_params(f);
  g.huge_share = std::min(1.0, static_cast<double>(huge_page_mapped_bytes()) / std::max(1.0, tensor_bytes(f)));
  g.achieved = g.tg.mean * g.bytes / 1e9;
  g.pp_gflops = g.pp.mean * g.flops_per_token / 1e9;
  g.pp_peak_pct = pr.peak_gops > 0 ? 100.0 * g.pp_gflops / pr.peak_gops : 0.0;
  return g;
}

void add_results(nlohmann::json& out, const BenchArgs& a, const Probes& pr, const Figures& g) {
  out["memory_gbs"] = pr.mem_gbs;
  out["memory_gbs_before"] = pr.mem_before;
  out["memory_gbs_after"] = pr.mem_after;
  out["pp"] = {{"n", a.pp}, {"tps", g.pp.mean}, {"stdev", g.pp.stdev}};
  out["tg"] = {{"n", a.tg}, {"tps", g.tg.mean}, {"stdev", g.tg.stdev}};
  out["weight_bytes_per_token"] = g.bytes;
  out["achieved_gbs"] = g.achieved;
  out["roofline_pct"] = pr.mem_gbs > 0 ? 100.0 * g.achieved / pr.mem_gbs : 0.0;
  out["pp_gflops"] = g.pp_gflops;
  out["int8_peak_gops"] = pr.peak_gops;
  out["pp_peak_pct"] = g.pp_peak_pct;
  out["flops_per_token"] = g.flops_per_token;
  out["huge_page_pct"] = 100 * g.huge_share;
  out["peak_rss_bytes"] = pr.peak_rss;
  out["model"] = a.model_path;
  out["mode"] = a.mode;
  out["depth"] = a.depth;
  out["cache_type"] = kv_cache_type_name(a.cache_type);
  out["depth_fill"] = a.depth_fill;
  out["dense_attention"] = a.dense;
}

void print_text(const BenchArgs& a, int n_threads, const Probes& pr, const Figures& g, double weight_bytes) {
  std::printf("model %s, %d threads, %d reps", a.model_path.c_str(), n_threads, a.reps);
  if (a.depth > 0)
    std::printf(", after %d cached tokens (%s)", a.depth, a.depth_fill == "random" ? "random rows, timing only" : "prefilled");
  std::printf(", cache %s%s\n", kv_cache_type_name(a.cache_type), a.dense ? ", dense attention forced" : "");
  if (a.pp > 0) {
    std::printf("pp%-5d %10.2f ± %.2f tokens/s = %.0f GFLOP/s (nominal %.2f GFLOP per token)\n", a.pp, g.pp.mean,
                g.pp.stdev, g.pp_gflops, g.flops_per_token / 1e9);
    if (pr.peak_gops > 0)
      std::printf("prefill at %.1f%% of the measured int8 peak, %.0f GOP/s (register-only probe)\n", g.pp_peak_pct,
                  pr.peak_gops);
  }
  if (a.tg > 0) std::printf("tg%-5d %10.2f ± %.2f tokens/s\n", a.tg, g.tg.mean, g.tg.stdev);
  std::printf("weights read per generated token: %.1f MiB; achieved %.2f GB/s = %.1f%% of the measured %.1f GB/s\n",
              g.bytes / (1 << 20), g.achieved, pr.mem_gbs > 0 ? 100 * g.achieved / pr.mem_gbs : 0.0, pr.mem_gbs);
  std::printf("bandwidth probe %.1f GB/s before, %.1f after; weights on 2 MiB pages: %.0f%%\n", pr.mem_before,
              pr.mem_after, 100 * g.huge_share);
  if (g.huge_share < 0.5 && !a.map.read_into_memory)
    std::printf("note: most weights are mapped with 4 KiB pages (the file sat in the page cache in small pieces);\n"
                "      decode is up to 2x faster on 2 MiB pages: run with --no-mmap, or once the file has left the cache\n");
  std::printf("peak RSS %.1f MiB (weights %.1f MiB mapped)\n", static_cast<double>(pr.peak_rss) / (1 << 20),
              weight_bytes / (1 << 20));
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  CLI::App app("Measure prompt (pp) and generation (tg) speed against the machine's measured int8 peak and read bandwidth.", "bench");
  BenchArgs a;
  add_options(app, a);
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (a.threads < 0 || a.threads > 1024 || a.reps < 1 || a.reps > 1000 || a.pp < 0 || a.tg < 0 || a.pp > 1 << 20 ||
      a.tg > 1 << 20 || a.depth < 0 || a.depth > 1 << 24 || !(a.probe_gib > 0.01 && a.probe_gib <= 64))
    return report("bench: parameter out of range (threads 1..1024, reps 1..1000, -p/-n 0..1048576, --depth 0..16777216, --probe-gib 0.01..64)");
  if (a.model_path.empty() && !a.memory_only) return report("bench: -m MODEL is required (or --memory)");
  AttentionMode attention = AttentionMode::kAuto;
  if (!parse_attention_mode(a.mode, &attention)) return report("bench: --mode must be naive, absorbed or auto");
  auto spec = parse_spec(a.spec);
  if (!spec.ok()) return report(spec.status());
  const int n_threads = a.threads > 0 ? a.threads : static_cast<int>(std::thread::hardware_concurrency());
  ThreadPool pool(n_threads);
  nlohmann::json out = {{"threads", n_threads}};
  Probes pr;
  pr.mem_gbs = measure_read_bandwidth_gbs(pool, probe_bytes(a), 5);
  pr.peak_gops = measure_int8_peak_gops(pool, 5);
  out["memory_gbs"] = pr.mem_gbs;
  out["int8_peak_gops"] = pr.peak_gops;
  if (a.memory_only) return print_probes_only(a, n_threads, out, pr);
  if (a.model_path.empty()) return report("bench: -m MODEL is required (or --memory)");
  auto ep = EpStart::begin(a.ep);
  if (!ep.ok()) return report(ep.status());
  auto files = open_model_files(a.model_path, a.map);
  if (!files.ok()) return report(files.status());
  files->cache_type = a.cache_type;
  files->dense_attention = a.dense;
  files->experts = ep->executor();
  auto shared_files = std::make_shared<const ModelFiles>(std::move(files).value());
  auto model = load_model(shared_files);
  if (!model.ok()) return report(model.status());
  if (Status st = ep->finish(*shared_files, **model); !st.ok()) return report(st);
  const Model& m = **model;
  if (a.pp + a.tg > m.n_ctx()) return report("bench: -p + -n exceeds the model's context of " + std::to_string(m.n_ctx()));
  const int64_t cache_len = static_cast<int64_t>(a.depth) + std::max(a.pp, a.tg + 1);
  if (a.depth > 0 && cache_len > m.n_ctx())
    return report("bench: --depth + -p (or -n) exceeds the model's context of " + std::to_string(m.n_ctx()));
  if (Status st = check_cache_memory(m, cache_len, 1, "--depth, -p or -n"); !st.ok()) return report(st);
  auto timings = time_runs(m, pool, a, attention);
  if (!timings.ok()) return report(timings.status());
  probe_again(pool, a, pr);
  const Figures g = figures(*shared_files, *timings, pr);
  add_results(out, a, pr, g);
  Result<SpecBench> sb = Status::error("no --spec");
  if (spec->method != SpecConfig::Method::kNone) {
    sb = bench_speculative(m, pool, *spec, std::max(a.tg, 1), a.reps);
    if (!sb.ok()) return report(sb.status());
    out["spec"] = spec_json(*sb);
  }
  if (a.json) {
    std::printf("%s\n", out.dump().c_str());
    return kExitOk;
  }
  print_text(a, n_threads, pr, g, tensor_bytes(*shared_files));
  if (sb.ok()) print_spec(*sb);
  return kExitOk;
}

}  // namespace dseek::cli
