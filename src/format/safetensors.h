// safetensors reader: one file, or a sharded directory described by
// model.safetensors.index.json. Header JSON is validated (dtypes, shapes,
// offsets inside the data, no overlaps, declared length within the file)
// before any tensor is exposed. Spec: huggingface/safetensors README.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"

namespace dseek {

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;            // row-major, outermost first (PyTorch order)
  std::span<const std::byte> data;
  std::string file;                      // which shard
  int64_t n_elements() const;
};

class Safetensors {
 public:
  // A .safetensors file, a model.safetensors.index.json, or a directory holding either.
  static Result<Safetensors> open(const std::string& path, const MapOptions& map = {});
  // One file's bytes (fuzzing, tests); `bytes` must outlive the result.
  static Result<Safetensors> parse(std::span<const std::byte> bytes, const std::string& name);

  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  const std::vector<std::string>& files() const { return files_; }

 private:
  Status add_file(std::span<const std::byte> bytes, const std::string& name);
  std::vector<std::shared_ptr<MappedFile>> maps_;
  std::vector<std::string> files_;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;  // name -> tensors_ position
};

}  // namespace dseek
