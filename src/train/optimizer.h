// AdamW with decoupled weight decay (Loshchilov & Hutter 2019), a linear
// warmup + cosine learning-rate schedule, and global gradient-norm clipping.
// State is f32 per parameter element (the FP32 master copy is the parameter).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "train/param.h"

namespace dseek::train {

struct AdamWConfig {
  double lr = 1e-3, min_lr = 1e-4, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
  int64_t warmup = 100, total_steps = 1000;
  double clip = 1.0;  // max global gradient norm; <= 0 disables
};

// Learning rate at `step` (0-based): linear warmup to lr, cosine decay to min_lr at total_steps.
double scheduled_lr(const AdamWConfig& c, int64_t step);

class AdamW {
 public:
  AdamW(AdamWConfig c, std::span<Param<float>* const> params);
  // Scales gradients to the clip norm if needed, then updates every parameter.
  // Returns the global gradient norm before clipping.
  double step(std::span<Param<float>* const> params);
  int64_t steps_done() const { return t_; }
  const AdamWConfig& config() const { return c_; }
  // Moment buffers, one per parameter, for checkpoints.
  std::vector<std::vector<float>>& first_moments() { return m_; }
  std::vector<std::vector<float>>& second_moments() { return v_; }
  void set_steps_done(int64_t t) { t_ = t; }

 private:
  AdamWConfig c_;
  std::vector<std::vector<float>> m_, v_;
  int64_t t_ = 0;
};

}  // namespace dseek::train
