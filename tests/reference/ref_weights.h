// Reference-internal: GGUF weights read into float64 with their shapes checked
// against the hyper-parameters, metadata look-ups that remember the first error,
// and the per-architecture entry points reference_model.cpp dispatches to.
// Not a model loader for the engine (src/model has its own); tests only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "format/gguf.h"
#include "reference/reference_model.h"

namespace dseek::reference {

using Vec = std::vector<double>;

// A tensor in float64. GGUF ne = [a, b, c] is row-major [c][b][a]; seen as a
// matrix it has ne[0] columns and numel/ne[0] rows (W[out][in] for ne = [in, out]).
struct Tensor {
  std::vector<int64_t> ne;
  Vec data;
  // Stored as q8_0 / q4_K / q6_K: the engine multiplies such weights by
  // activations rounded to int8 blocks (llama.cpp's scheme), and so does
  // linear() here, so the comparison measures the engine, not that rounding.
  bool int8_acts = false;
  bool empty() const { return data.empty(); }
  int64_t cols() const { return ne.empty() ? 0 : ne[0]; }
  int64_t rows() const { return cols() ? static_cast<int64_t>(data.size()) / cols() : 0; }
  const double* row(int64_t r) const { return data.data() + r * cols(); }
};

// Reads tensors and keys from one GGUF file. Each getter records the first
// failure (missing tensor, wrong shape, missing key) and returns an empty value,
// so loading code reads straight and checks ok() once.
class WeightReader {
 public:
  static Result<WeightReader> open(const std::string& path, const std::string& key_prefix);
  explicit WeightReader(GgufFile file, std::string prefix) : file_(std::move(file)), prefix_(std::move(prefix)) {}

  bool has_tensor(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  bool has_key(const std::string& key) const { return file_.find(prefix_ + key) != nullptr; }
  Tensor tensor(const std::string& name, const std::vector<int64_t>& expected_ne);
  int64_t integer(const std::string& key);                  // required
  int64_t integer(const std::string& key, int64_t fallback);
  double real(const std::string& key, double fallback);
  bool boolean(const std::string& key, bool fallback);
  std::string string(const std::string& key, const std::string& fallback);

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  void fail(const std::string& what);
  const GgufFile& file() const { return file_; }

 private:
  GgufFile file_;
  std::string prefix_;
  Status status_;
};

// Per-architecture entry points (deepseek_ref.cpp, llama_ref.cpp).
Result<Vec> deepseek_forward_logits(WeightReader& r, const std::vector<int32_t>& tokens, const RefOptions& opt);
Result<Vec> deepseek_mtp_logits(WeightReader& r, const std::vector<int32_t>& tokens, const RefOptions& opt);
Result<Vec> llama_forward_logits(WeightReader& r, const std::vector<int32_t>& tokens, bool qwen2);

}  // namespace dseek::reference
