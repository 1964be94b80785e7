// Quantisation quality: how far a quantised model's next-token distributions
// are from its base model's over a text. Per scored position, with p the
// base's softmax and q the quantised model's:
//   KL(p || q) = sum_i p_i (log p_i - log q_i)   (nats, float64 throughout)
//   top-1 agreement: argmax p == argmax q
//   negative log-likelihood of the true next token under each model -> perplexity.
// The accumulator is a pure function of the logits it is fed, so it is tested
// against a direct float64 computation.
#pragma once

#include <cstdint>
#include <vector>

namespace dseek {

struct KldSummary {
  int64_t positions = 0;
  double kld_mean = 0, kld_stderr = 0, kld_max = 0, kld_p99 = 0, kld_median = 0;
  double top1_agreement = 0;  // fraction in [0, 1]
  double ppl_base = 0, ppl_quant = 0;
};

class KldAccumulator {
 public:
  // One position: both models' logits over the same vocabulary and the token that really came next.
  void add(const float* base_logits, const float* quant_logits, int64_t n_vocab, int32_t next_token);
  KldSummary summary() const;

 private:
  std::vector<double> kld_;
  int64_t agree_ = 0;
  double nll_base_ = 0, nll_quant_ = 0;
};

}  // namespace dseek
