// See mtp_draft.h.
#include "runtime/mtp_draft.h"

#include <algorithm>

namespace dseek {
namespace {

int32_t argmax(const std::vector<float>& v) {  // ties: the lowest id, as the greedy sampler
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

MtpDrafter::MtpDrafter(const Model& model, ThreadPool& pool, int64_t n_ctx)
    : model_(model), pool_(pool), n_embd_(model.mtp_hidden_width()), cache_(model.new_mtp_cache(n_ctx)),
      logits_(static_cast<size_t>(model.n_vocab())), chain_hidden_(static_cast<size_t>(model.mtp_hidden_width())) {}

void MtpDrafter::on_trunk(int64_t pos0, const float* hidden, int64_t n) {
  // Positions before pos0 that were stored but not run again stay; later ones were cut back.
  hidden_.resize(static_cast<size_t>(std::max<int64_t>(0, pos0 - cache_.n_past) * n_embd_));
  hidden_.insert(hidden_.end(), hidden, hidden + n * n_embd_);
}

void MtpDrafter::rollback(int64_t n_past) {
  const int64_t keep = std::clamp<int64_t>(n_past - cache_.n_past, 0, stored_rows());
  hidden_.resize(static_cast<size_t>(keep * n_embd_));
}

Status MtpDrafter::propose(std::span<const int32_t> history, int64_t n, std::vector<int32_t>& out) {
  out.clear();
  const int64_t rows = stored_rows(), m = cache_.n_past;
  if (n <= 0 || rows == 0) return ok_status();
  if (m + rows + 1 > static_cast<int64_t>(history.size()))
    return Status::error("MTP drafter: hidden states and history out of step");
  // True pairs (h_i, token_{i+1}) for i = m .. m + rows - 1: kept in the cache for good.
  const auto next = history.subspan(static_cast<size_t>(m + 1), static_cast<size_t>(rows));
  if (Status st = model_.forward_mtp_step(hidden_.data(), next, cache_, pool_, logits_.data(), chain_hidden_.data());
      !st.ok())
    return st;
  hidden_.clear();
  const int64_t kept = cache_.n_past;
  out.push_back(argmax(logits_));
  while (static_cast<int64_t>(out.size()) < n) {  // chain on the module's own output
    const int32_t prev = out.back();
    if (Status st = model_.forward_mtp_step(chain_hidden_.data(), std::span<const int32_t>(&prev, 1), cache_, pool_,
                                            logits_.data(), chain_hidden_.data());
        !st.ok())
      return st;
    out.push_back(argmax(logits_));
  }
  cache_.n_past = kept;  // drop the chained rows
  return ok_status();
}

}  // namespace dseek
