// Speculative decoding inside the serving engine (`dseek serve --spec`): one
// sequence's draft state. Each engine step a decoding sequence drafts k
// tokens after its pending one and contributes all 1 + k of them, with every
// row's logits, to the step's one batched forward (next to the other
// sequences' rows and prompt chunks); verify() then accepts a prefix of the
// drafts by the standard rejection scheme (Sampler::verify_draft) and adds one
// token of its own, and the engine cuts the sequence's cache back to what
// stood. Greedy output is the plain engine's byte for byte; sampled output
// keeps its distribution. Drafts depend only on the sequence's own history
// (and, for MTP, its own trunk hidden states), so batch invariance holds.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "runtime/sampler/sampler.h"
#include "runtime/speculative.h"

namespace dseek {

class SequenceSpec {
 public:
  SequenceSpec() = default;  // off: the sequence decodes one token per step
  // A drafter for `config`; `n_cached` prompt tokens came from the prefix cache.
  static Result<SequenceSpec> make(const SpecConfig& config, const Model& model, ThreadPool& pool, int64_t n_ctx,
                                   int64_t n_cached);

  bool active() const { return drafter_ != nullptr; }
  bool wants_hidden() const { return drafter_ && drafter_->wants_hidden(); }
  // Drafts up to `k` tokens after `history` (its last token is the pending one);
  // rows() then holds [pending, drafts...]. An empty draft leaves rows() at one token.
  Status draft(std::span<const int32_t> history, int64_t k);
  std::span<const int32_t> rows() const { return verify_; }
  int64_t n_drafts() const { return static_cast<int64_t>(verify_.size()) - 1; }
  // The trunk ran positions [pos0, pos0 + n) of this sequence (hidden: [n x E] when wanted).
  void on_trunk(int64_t pos0, const float* hidden, int64_t n) {
    if (drafter_) drafter_->on_trunk(pos0, hidden, n);
  }
  void rollback(int64_t n_past) {
    if (drafter_) drafter_->rollback(n_past);
  }
  // Checks the drafts against `logits` (one row of V per entry of rows()) and
  // returns how many stood; tokens() then holds them and the step's own token
  // (the replacement of the first rejected draft, or one sampled after the
  // last). `history` (ending in the pending token) is left as it came.
  int64_t verify(Sampler& sampler, const float* logits, int64_t n_vocab, std::vector<int32_t>& history);
  std::span<const int32_t> tokens() const { return tokens_; }

  // This request's totals: draft tokens run, and those accepted and delivered.
  int64_t drafted = 0, accepted = 0;

 private:
  std::unique_ptr<Drafter> drafter_;
  std::vector<int32_t> verify_, drafts_, tokens_;
};

}  // namespace dseek
