// WeightBinder: finds a model's tensors in a WeightSource by our GGUF name or
// the Hugging Face name, checks each shape against what the hyper-parameters
// say, and hands out in-place matrix views (FP8 weights with their
// weight_scale_inv). Small vectors (norms, biases) are converted to f32 once.
// The first problem found is kept as the binder's status, naming the tensor.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "format/weight_source.h"
#include "kernels/kernels.h"

namespace dseek {

class LoraAdapters;

class WeightBinder {
 public:
  // Converted vectors are stored in `storage`, which the model owns (it must outlive the views).
  using Storage = std::deque<std::vector<float>>;
  WeightBinder(const WeightSource& ws, std::string where, Storage& storage)
      : ws_(ws), where_(std::move(where)), owned_(storage) {}

  bool has(const std::string& gguf, const std::string& hf) const;
  // A [rows x cols] matrix (any leading dims that multiply out to rows).
  kernels::MatrixView matrix(const std::string& gguf, const std::string& hf, int64_t rows, int64_t cols);
  // A vector of n floats (converted from its stored type).
  const float* vec(const std::string& gguf, const std::string& hf, int64_t n);

  // LoRA adapters to attach to the matrices they name (null: none).
  void set_adapters(const LoraAdapters* a) { adapters_ = a; }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

 private:
  const WeightView* find(const std::string& gguf, const std::string& hf, const std::string& what);
  void fail(const std::string& msg) {
    if (status_.ok()) status_ = Status::error(where_ + ": " + msg);
  }
  const WeightSource& ws_;
  std::string where_;
  Status status_;
  Storage& owned_;  // converted small vectors (stable addresses)
  const LoraAdapters* adapters_ = nullptr;
};

}  // namespace dseek
