// Prometheus text exposition for GET /metrics: request and token counters,
// time-to-first-token and per-token latency histograms, and gauges read from
// the engine at scrape time. Thread-safe; owned by the server (no globals).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace dseek::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  void render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t n_ = 0;
};

struct Metrics {
  std::atomic<uint64_t> requests{0}, requests_failed{0}, requests_cancelled{0}, requests_rejected_busy{0};
  std::atomic<uint64_t> prompt_tokens{0}, generated_tokens{0}, cache_hit_tokens{0};
  Histogram ttft{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  Histogram per_token{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}};

  std::string render(const EngineStats& engine) const;
};

}  // namespace dseek::server
