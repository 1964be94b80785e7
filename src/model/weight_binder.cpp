// See weight_binder.h.
#include "model/weight_binder.h"

#include "model/lora_adapter.h"

namespace dseek {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

bool WeightBinder::has(const std::string& gguf, const std::string& hf) const {
  return ws_.find(gguf) || (!hf.empty() && ws_.find(hf));
}

const WeightView* WeightBinder::find(const std::string& gguf, const std::string& hf, const std::string& what) {
  if (const auto* w = ws_.find(gguf)) return w;
  if (!hf.empty())
    if (const auto* w = ws_.find(hf)) return w;
  fail("missing tensor '" + gguf + "'" + (hf.empty() ? "" : " (Hugging Face name '" + hf + "')") + " for " + what);
  return nullptr;
}

kernels::MatrixView WeightBinder::matrix(const std::string& gguf, const std::string& hf, int64_t rows, int64_t cols) {
  const WeightView* w = find(gguf, hf, "a " + std::to_string(rows) + " x " + std::to_string(cols) + " matrix");
  if (!w) return {};
  const int64_t inner = w->shape.empty() ? 0 : w->shape.back();
  if (inner != cols || w->n_elements() != rows * cols) {
    fail("tensor '" + w->name + "' has shape " + shape_str(w->shape) + " but the hyper-parameters say " +
         std::to_string(rows) + " x " + std::to_string(cols));
    return {};
  }
  const auto& tr = dtype_traits(w->dtype);
  if (!tr.is_float || cols % tr.block_size != 0) {
    fail("tensor '" + w->name + "' has type " + std::string(tr.name) + ", which cannot be used as a weight matrix here");
    return {};
  }
  const float* scale = nullptr;
  if (w->dtype == DType::kF8E4M3) {
    const std::string sname = w->name + "_scale_inv";
    const WeightView* s = ws_.find(sname);
    const int64_t want = ((rows + 127) / 128) * ((cols + 127) / 128);
    if (!s || s->dtype != DType::kF32 || s->n_elements() != want) {
      fail("FP8 tensor '" + w->name + "' needs '" + sname + "' as F32 with " + std::to_string(want) + " block scales");
      return {};
    }
    if (reinterpret_cast<uintptr_t>(s->data.data()) % alignof(float) != 0) {
      fail("'" + sname + "' is not 4-byte aligned in its file");
      return {};
    }
    scale = reinterpret_cast<const float*>(s->data.data());
  }
  kernels::MatrixView m = kernels::make_matrix(w->dtype, w->data.data(), rows, cols, scale);
  if (adapters_) m.lora = adapters_->find(gguf);
  return m;
}

const float* WeightBinder::vec(const std::string& gguf, const std::string& hf, int64_t n) {
  const WeightView* w = find(gguf, hf, "a vector of " + std::to_string(n));
  if (!w) return nullptr;
  if (w->n_elements() != n) {
    fail("tensor '" + w->name + "' has shape " + shape_str(w->shape) + " but the hyper-parameters say " + std::to_string(n));
    return nullptr;
  }
  if (!dtype_traits(w->dtype).is_float || dtype_traits(w->dtype).block_size != 1) {
    fail("tensor '" + w->name + "' has type " + std::string(dtype_name(w->dtype)) + "; a float vector is needed");
    return nullptr;
  }
  auto& v = owned_.emplace_back(static_cast<size_t>(n));
  kernels::dequantize_row(w->dtype, w->data.data(), v.data(), n);
  return v.data();
}

}  // namespace dseek
