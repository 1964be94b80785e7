// Speculative decoding for one sequence: a drafter proposes the next few
// tokens, the model checks them all in one forward over [pending, d_1..d_k]
// (k + 1 rows of logits), the sampler accepts a prefix of the drafts
// (Sampler::verify_draft) and adds one token of its own, and the cache is cut
// back to what was accepted. Lossless: greedy output is the plain loop's byte
// for byte (batched logits equal one-at-a-time ones), sampled output has the
// plain sampler's distribution.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace dseek {

// `--spec ngram[:N]` / `--spec mtp[:N]`: where drafts come from and how many per step.
struct SpecConfig {
  enum class Method { kNone, kNgram, kMtp } method = Method::kNone;
  int64_t draft = 0;  // tokens proposed per step
};
// "ngram", "ngram:4", "mtp", "mtp:2" ("none" or empty: off). Defaults: ngram 4, mtp 1.
Result<SpecConfig> parse_spec(std::string_view text);
const char* spec_method_name(SpecConfig::Method m);

// How drafts fared, per draft position (0: the first drafted token).
struct SpecStats {
  std::vector<int64_t> proposed, accepted;
  int64_t steps = 0;  // verifying forwards
  void count(size_t position, bool ok);
  double acceptance(size_t position) const;
};

// A draft source. The loop tells it what the trunk computed and where the
// cache was cut back, and asks it for tokens to follow the history.
class Drafter {
 public:
  virtual ~Drafter() = default;
  // Whether on_trunk() needs the trunk's final hidden states (ForwardOptions::hidden).
  virtual bool wants_hidden() const { return false; }
  // The trunk ran positions [pos0, pos0 + n); `hidden` [n x E] when wanted.
  virtual void on_trunk(int64_t pos0, const float* hidden, int64_t n) {}
  // The trunk cache holds positions [0, n_past) now (a rejection cut it back).
  virtual void rollback(int64_t n_past) {}
  // Before any on_trunk(): positions [0, n_past) came from a prefix cache, so
  // the trunk never ran them here (no hidden states). Drafts may be worse; the
  // verification keeps the output unchanged.
  virtual void skip_prefix(int64_t n_past) {}
  // Up to `n` tokens to follow `history` (prompt + output; its last token is
  // the pending one, sampled but not yet run by the trunk).
  virtual Status propose(std::span<const int32_t> history, int64_t n, std::vector<int32_t>& out) = 0;
};

// Whether `model` can draft by `config` (MTP needs an MTP layer; the error says to use ngram).
Status check_spec(const SpecConfig& config, const Model& model);
// The drafter for `config`; MTP needs a model with an MTP layer (the error says to use ngram).
Result<std::unique_ptr<Drafter>> make_drafter(const SpecConfig& config, const Model& model, ThreadPool& pool,
                                              int64_t n_ctx);

}  // namespace dseek
