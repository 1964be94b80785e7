// GgufWriter: writes GGUF v3 files. Metadata and tensor infos are declared
// first; tensor bytes are then produced one tensor at a time by a callback, so
// a model never has to be held whole in memory. Writes to PATH.tmp and renames
// on success: a failed or interrupted write never leaves a half file at PATH.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "format/gguf.h"

namespace dseek {

class GgufWriter {
 public:
  explicit GgufWriter(uint64_t alignment = 32) : alignment_(alignment) {}

  // Sets (or replaces, keeping its position) a metadata key.
  void set(const std::string& key, GgufValue value);
  void add_tensor(std::string name, DType dtype, std::vector<int64_t> ne);
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  uint64_t total_tensor_bytes() const;

  // fill(i, out) must write exactly out.size() bytes of tensor i's data.
  using FillFn = std::function<Status(size_t index, std::span<std::byte> out)>;
  // progress(bytes_done, bytes_total), called after every tensor.
  using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;
  Status write(const std::string& path, const FillFn& fill, const ProgressFn& progress = nullptr) const;

 private:
  uint64_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<GgufTensorInfo> tensors_;
};

}  // namespace dseek
