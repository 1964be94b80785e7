// See engine_spec.h.
#include "runtime/engine_spec.h"

namespace dseek {

Result<SequenceSpec> SequenceSpec::make(const SpecConfig& config, const Model& model, ThreadPool& pool, int64_t n_ctx,
                                        int64_t n_cached) {
  SequenceSpec s;
  auto d = make_drafter(config, model, pool, n_ctx);
  if (!d.ok()) return d.status();
  s.drafter_ = std::move(d).value();
  s.drafter_->skip_prefix(n_cached);
  return s;
}

Status SequenceSpec::draft(std::span<const int32_t> history, int64_t k) {
  drafts_.clear();
  if (k > 0)
    if (Status st = drafter_->propose(history, k, drafts_); !st.ok()) return st;
  verify_.assign(1, history.back());
  verify_.insert(verify_.end(), drafts_.begin(), drafts_.end());
  drafted += static_cast<int64_t>(drafts_.size());
  return ok_status();
}

int64_t SequenceSpec::verify(Sampler& sampler, const float* logits, int64_t n_vocab, std::vector<int32_t>& history) {
  const size_t base = history.size(), k = verify_.size() - 1, V = static_cast<size_t>(n_vocab);
  tokens_.clear();
  size_t stood = 0;
  for (; stood < k; ++stood) {  // row i decides draft i + 1, given the drafts before it
    const Sampler::Verdict v = sampler.verify_draft(std::span<const float>(logits + stood * V, V), history, verify_[stood + 1]);
    tokens_.push_back(v.token);
    if (!v.accepted) break;
    history.push_back(v.token);
  }
  if (stood == k) tokens_.push_back(sampler.sample(std::span<const float>(logits + k * V, V), history));
  history.resize(base);
  return static_cast<int64_t>(stood);
}

}  // namespace dseek
