// WeightSource: the one binding every model loader reads — tensor name ->
// (dtype, shape, bytes) — whichever file format the weights came from.
// Shapes are row-major, outermost first (PyTorch order); GGUF's ne order is
// reversed on the way in. Views stay valid while the WeightSource lives.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "format/gguf.h"
#include "format/safetensors.h"

namespace dseek {

struct WeightView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, outermost first
  std::span<const std::byte> data;
  int64_t n_elements() const;
};

class WeightSource {
 public:
  static WeightSource from_gguf(std::shared_ptr<const GgufFile> f);
  static WeightSource from_safetensors(std::shared_ptr<const Safetensors> s);
  // Views onto memory that `owner` keeps alive: a loader's renamed, repacked
  // or merged tensors (model/arch/deepseek_v4_weights.cpp).
  static WeightSource from_views(std::vector<WeightView> views, std::shared_ptr<const void> owner);

  const std::vector<WeightView>& tensors() const { return views_; }
  const WeightView* find(std::string_view name) const;

 private:
  void index();
  std::shared_ptr<const void> owner_;  // keeps the mapped files alive
  std::vector<WeightView> views_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace dseek
