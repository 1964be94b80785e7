// Rotary position embedding tables, with DeepSeek's YaRN frequency ramp
// (DEEPSEEK_NOTES.md "YaRN and the softmax scale"; YaRN paper §3).
#pragma once

#include <cstdint>
#include <vector>

namespace dseek {

struct YarnParams {
  double factor = 0.0;     // 0 or <= 1: plain RoPE
  double orig_ctx = 4096;  // original_max_position_embeddings
  double beta_fast = 32, beta_slow = 1;
  double mscale_all_dim = 0;
};

class RopeTable {
 public:
  RopeTable(int64_t n_dims, double theta, const YarnParams& yarn);
  // cos/sin of position `pos` for each of the n_dims/2 pairs.
  void angles(int64_t pos, float* cos, float* sin) const;
  int64_t n_pairs() const { return static_cast<int64_t>(inv_freq_.size()); }
  // The YaRN attention-temperature factor m² applied to the softmax scale (1 without YaRN).
  double softmax_scale_factor() const { return softmax_factor_; }

 private:
  std::vector<double> inv_freq_;
  double softmax_factor_ = 1.0;
};

}  // namespace dseek
