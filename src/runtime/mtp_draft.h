// Drafts from DeepSeek-V3's multi-token-prediction module. The module maps
// (h_i, token_{i+1}) — the trunk's final hidden state at i and the token
// after it — to logits for token_{i+2}; its attention layer keeps a cache of
// its own, one position behind the trunk's. Draft 1 comes from the true
// hidden state of the last position the trunk ran and the pending token;
// drafts 2..N chain the module on its own output hidden state and draft
// (as V3's sequential MTP modules do). Chained cache rows are dropped after
// each proposal: only rows built from true trunk states are kept, so a
// rejection never leaves a wrong row behind.
#pragma once

#include <vector>

#include "runtime/speculative.h"

namespace dseek {

class MtpDrafter final : public Drafter {
 public:
  MtpDrafter(const Model& model, ThreadPool& pool, int64_t n_ctx);
  bool wants_hidden() const override { return true; }
  void on_trunk(int64_t pos0, const float* hidden, int64_t n) override;
  void rollback(int64_t n_past) override;
  // The module's rows for the skipped positions stay zero: it attends to them as blanks.
  void skip_prefix(int64_t n_past) override { cache_.n_past = n_past; }
  Status propose(std::span<const int32_t> history, int64_t n, std::vector<int32_t>& out) override;

 private:
  int64_t stored_rows() const { return static_cast<int64_t>(hidden_.size()) / n_embd_; }

  const Model& model_;
  ThreadPool& pool_;
  int64_t n_embd_;  // floats per hidden row: the model's mtp_hidden_width()
  KvCache cache_;               // the MTP layer's; positions [0, cache_.n_past) built from true trunk states
  std::vector<float> hidden_;   // trunk hidden states of positions [cache_.n_past, ...) not yet fed to the module
  std::vector<float> logits_, chain_hidden_;
};

}  // namespace dseek
