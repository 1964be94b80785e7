// CRC-32 (the IEEE / zlib polynomial, reflected 0xEDB88320): detects the
// flipped bits and torn writes of a damaged file. Not a cryptographic hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dseek {

class Crc32 {
 public:
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  uint32_t value() const { return ~state_; }

 private:
  uint32_t state_ = 0xFFFFFFFFu;
};

inline uint32_t crc32(const void* data, size_t n) {
  Crc32 c;
  c.update(data, n);
  return c.value();
}

}  // namespace dseek
