// See lora.h.
#include "train/lora.h"

#include <algorithm>
#include <cmath>

namespace dseek::train {

bool lora_eligible(const std::string& n) {
  static const std::regex ok(R"(^blk\.\d+\.(attn_(q|q_a|q_b|kv_a_mqa|output)|ffn_(gate|up|down)(_shexp)?|nextn\.eh_proj)\.weight$)");
  return std::regex_match(n, ok);
}

template <typename T>
Result<LoraSet<T>> LoraSet<T>::attach(TrainModel<T>& m, const LoraConfig& c) {
  if (c.rank < 1 || c.rank > 4096) return Status::error("--lora rank must be in [1, 4096]");
  if (!(c.alpha > 0 && c.alpha <= 1e6)) return Status::error("--lora-alpha must be in (0, 1e6]");
  std::regex re;
  try {
    re = std::regex(c.targets, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Status::error("--lora-targets is not a valid regular expression: " + c.targets);
  }
  LoraSet s;
  s.rank_ = c.rank;
  s.alpha_ = c.alpha;
  Rng rng(c.seed);
  for (Param<T>* p : m.params()) {
    if (!lora_eligible(p->name) || !std::regex_search(p->name, re)) continue;
    LoraPair<T>& lp = s.pairs_.emplace_back();
    lp.base = p;
    lp.a.shape(p->name + ".lora_a", c.rank, p->cols);
    lp.b.shape(p->name + ".lora_b", p->rows, c.rank);
    init_normal(lp.a, rng, 1.0 / std::sqrt(static_cast<double>(p->cols)));
  }
  if (s.pairs_.empty()) return Status::error("--lora-targets '" + c.targets + "' matches no adaptable projection");
  return s;
}

template <typename T>
std::vector<Param<T>*> LoraSet<T>::params() {
  std::vector<Param<T>*> out;
  for (auto& lp : pairs_) out.push_back(&lp.a), out.push_back(&lp.b);
  return out;
}

template <typename T>
void LoraSet<T>::zero_grad() {
  for (auto& lp : pairs_) {
    std::fill(lp.a.g.begin(), lp.a.g.end(), T(0));
    std::fill(lp.b.g.begin(), lp.b.g.end(), T(0));
  }
}

template <typename T>
void LoraSet<T>::merge() {
  const T s = static_cast<T>(scale());
  for (auto& lp : pairs_) {
    lp.w0 = lp.base->w;
    const int64_t rows = lp.base->rows, cols = lp.base->cols, r = rank_;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t k = 0; k < r; ++k) {
        const T bik = s * lp.b.w[static_cast<size_t>(i * r + k)];
        if (bik == T(0)) continue;
        const T* a = lp.a.w.data() + k * cols;
        T* w = lp.base->w.data() + i * cols;
        for (int64_t j = 0; j < cols; ++j) w[j] += bik * a[j];
      }
  }
}

template <typename T>
void LoraSet<T>::take_gradients() {
  const T s = static_cast<T>(scale());
  for (auto& lp : pairs_) {
    const int64_t rows = lp.base->rows, cols = lp.base->cols, r = rank_;
    const T* g = lp.base->g.data();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t k = 0; k < r; ++k) {
        const T* a = lp.a.w.data() + k * cols;
        const T* gi = g + i * cols;
        T dot = 0;
        for (int64_t j = 0; j < cols; ++j) dot += gi[j] * a[j];
        lp.b.g[static_cast<size_t>(i * r + k)] += s * dot;  // dB = s G A^T
        const T bik = s * lp.b.w[static_cast<size_t>(i * r + k)];
        T* ga = lp.a.g.data() + k * cols;
        for (int64_t j = 0; j < cols; ++j) ga[j] += bik * gi[j];  // dA = s B^T G
      }
    lp.base->w = std::move(lp.w0);
    lp.w0.clear();
    std::fill(lp.base->g.begin(), lp.base->g.end(), T(0));
  }
}

template class LoraSet<float>;
template class LoraSet<double>;

}  // namespace dseek::train
