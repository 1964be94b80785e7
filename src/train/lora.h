// LoRA (Hu et al. 2021) on a TrainModel's projection matrices: W' = W +
// (alpha / r) * B A with A [r x cols] and B [rows x r]; W stays frozen. The
// trainer's backward already yields dL/dW' for the effective matrix, and
// since W' is linear in B A the adapter's gradients follow exactly:
//   dL/dA = s * B^T dL/dW',  dL/dB = s * dL/dW' A^T   (s = alpha / r).
// So a step is: merge() (W <- W0 + s B A), the model's step, then
// take_gradients() (fills A.g, B.g and restores W0). This costs a full-size
// weight gradient per adapted matrix (no memory saving over full fine-tuning
// in training) but needs no change to any backward kernel.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "core/status.h"
#include "train/train_model.h"

namespace dseek::train {

struct LoraConfig {
  int64_t rank = 8;
  double alpha = 16;
  // ECMAScript regex searched in each parameter's GGUF name. Eligible: the
  // attention projections (q_a, q_b / q, kv_a_mqa, output), dense MLP and
  // shared-expert matrices. Routed experts and the joint kv_b are not (their
  // GGUF tensors are 3-D / split per head; see docs).
  std::string targets = "attn_(q|q_a|q_b|kv_a_mqa|output)\\.|ffn_(gate|up|down)(_shexp)?\\.";
  uint64_t seed = 1;
};

// Whether a TrainModel parameter can carry an adapter (its GGUF tensor is a plain 2-D matrix).
bool lora_eligible(const std::string& param_name);

template <typename T>
struct LoraPair {
  Param<T>* base = nullptr;
  Param<T> a, b;       // named "<base>.lora_a" / ".lora_b"
  std::vector<T> w0;   // the frozen base while merged
};

template <typename T>
class LoraSet {
 public:
  // A ~ N(0, 1/cols) (Kaiming-like), B = 0: the adapted model starts as the base.
  static Result<LoraSet> attach(TrainModel<T>& m, const LoraConfig& c);

  double scale() const { return alpha_ / static_cast<double>(rank_); }
  int64_t rank() const { return rank_; }
  double alpha() const { return alpha_; }
  const std::vector<LoraPair<T>>& pairs() const { return pairs_; }
  std::vector<LoraPair<T>>& pairs() { return pairs_; }
  // The A and B parameters (what the optimiser updates).
  std::vector<Param<T>*> params();
  void zero_grad();

  void merge();           // W <- W0 + s B A (W0 kept)
  void take_gradients();  // A.g, B.g += from W.g; W <- W0; W.g <- 0

 private:
  int64_t rank_ = 0;
  double alpha_ = 0;
  std::vector<LoraPair<T>> pairs_;
};

}  // namespace dseek::train
