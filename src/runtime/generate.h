// Single-sequence generation: prefill the prompt, then sample one token at a
// time until a stop token, the token budget or the context end, calling back
// with every new token (for streaming). The server's batched engine builds on
// the same Model and Sampler; this is the CLI's simple loop.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "model/model.h"
#include "runtime/sampler/sampler.h"
#include "runtime/speculative.h"

namespace dseek {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  std::vector<int32_t> stop_tokens;  // generation ends after emitting one of these (not passed to on_token)
  int64_t n_ctx = 0;                 // cache size; 0: the model's context length
  SpecConfig spec;                   // speculative decoding (off by default)
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated tokens (stop token excluded)
  enum class Stop { kStopToken, kMaxTokens, kContextFull, kCallback } stop = Stop::kMaxTokens;
  double prefill_seconds = 0, decode_seconds = 0;
  SpecStats spec;  // with opt.spec: drafts proposed and accepted per draft position
};

// on_token returns false to stop early.
Result<GenerateResult> generate(const Model& model, ThreadPool& pool, std::span<const int32_t> prompt, Sampler& sampler,
                                const GenerateOptions& opt, const std::function<bool(int32_t)>& on_token);

// generate() with opt.spec on (speculative_generate.cpp): same tokens for
// greedy, same distribution when sampling, fewer forwards.
Result<GenerateResult> generate_speculative(const Model& model, ThreadPool& pool, std::span<const int32_t> prompt,
                                            Sampler& sampler, const GenerateOptions& opt,
                                            const std::function<bool(int32_t)>& on_token);

}  // namespace dseek
