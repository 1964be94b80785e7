// ByteReader: a bounds-checked little-endian cursor over a byte span, for
// parsers of untrusted files. Every read checks the remaining length first and
// reports failure instead of reading past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace dseek {

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  template <class T>
  bool read(T* out) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(out, bytes_.data() + pos_, sizeof(T));  // little-endian host assumed (x86-64, arm64)
    pos_ += sizeof(T);
    return true;
  }

  bool read_bytes(uint64_t n, std::string* out) {
    if (remaining() < n) return false;
    out->assign(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(n));
    pos_ += n;
    return true;
  }

  bool skip(uint64_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }

 private:
  std::span<const std::byte> bytes_;
  uint64_t pos_ = 0;
};

}  // namespace dseek
