// Helpers for the engine tests (test_engine.cpp, test_engine_spec.cpp): a
// collector of one request's events, request builders, run-to-completion.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "runtime/engine.h"

namespace dseek::test {

struct Outcome {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  FinishEvent finish;
  bool done = false;
};

// Collects a request's events; wait() blocks until on_finish.
class Collector {
 public:
  EngineRequest wrap(EngineRequest r) {
    r.on_token = [this](const TokenEvent& ev) {
      std::lock_guard lock(mu_);
      out_.tokens.push_back(ev.token);
      out_.logprobs.push_back(ev.logprob);
      return true;
    };
    r.on_finish = [this](const FinishEvent& ev) {
      std::lock_guard lock(mu_);
      out_.finish = ev;
      out_.done = true;
      cv_.notify_all();
    };
    return r;
  }
  Outcome wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return out_.done; });
    return out_;
  }
  size_t n_tokens() {
    std::lock_guard lock(mu_);
    return out_.tokens.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Outcome out_;
};

inline std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t n_vocab, int len) {
  std::vector<int32_t> p(static_cast<size_t>(len));
  for (auto& t : p) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
  return p;
}

inline EngineRequest request(std::vector<int32_t> prompt, float temperature, uint64_t seed, int64_t max_tokens) {
  EngineRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  r.max_tokens = max_tokens;
  r.logprobs = true;
  return r;
}

// Submits all requests at once and waits for every one.
inline std::vector<Outcome> run_all(Engine& e, const std::vector<EngineRequest>& reqs) {
  std::vector<std::unique_ptr<Collector>> cs;
  for (const auto& r : reqs) {
    cs.push_back(std::make_unique<Collector>());
    auto sub = e.submit(cs.back()->wrap(r));
    EXPECT_EQ(sub.error, Engine::SubmitError::kNone) << sub.message;
  }
  std::vector<Outcome> out;
  for (auto& c : cs) out.push_back(c->wait());
  return out;
}

}  // namespace dseek::test
