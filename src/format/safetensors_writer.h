// Writing a .safetensors file (used by tests and converters): header JSON with
// dtype, shape and data_offsets per tensor, padded to 8 bytes, then the data.
// Written to PATH.tmp and renamed, so a failure never leaves a half file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace dseek {

class SafetensorsWriter {
 public:
  // shape row-major, outermost first; `bytes` must hold exactly the tensor's data.
  // st_dtype: the header's dtype string when it is not dtype's own (e.g.
  // "F8_E8M0" for u8 bytes that are power-of-two scales).
  void add(std::string name, DType dtype, std::vector<int64_t> shape, std::vector<std::byte> bytes,
           std::string st_dtype = {});
  Status write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<std::byte> bytes;
    std::string st_dtype;
  };
  std::vector<Entry> entries_;
};

}  // namespace dseek
