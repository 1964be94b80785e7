// A byte-level GGUF builder for tests: lets a test write exactly the (possibly
// corrupt) header it wants, independent of GgufWriter.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

namespace dseek::test {

class GgufBytes {
 public:
  GgufBytes& raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    return *this;
  }
  template <class T>
  GgufBytes& put(T x) { return raw(&x, sizeof x); }
  GgufBytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    return raw(s.data(), s.size());
  }
  GgufBytes& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    raw("GGUF", 4);
    put(version);
    put(n_tensors);
    return put(n_kv);
  }
  GgufBytes& kv_u32(const std::string& key, uint32_t v) {
    str(key);
    put<uint32_t>(4);
    return put(v);
  }
  GgufBytes& kv_str(const std::string& key, const std::string& v) {
    str(key);
    put<uint32_t>(8);
    return str(v);
  }
  GgufBytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name);
    put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (auto d : ne) put(d);
    put(type);
    return put(offset);
  }
  GgufBytes& pad(size_t alignment) {
    while (bytes_.size() % alignment) bytes_.push_back(0);
    return *this;
  }
  GgufBytes& zeros(size_t n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  std::span<const std::byte> span() const { return {reinterpret_cast<const std::byte*>(bytes_.data()), bytes_.size()}; }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Rewrites the value of the uint32 metadata key `key` of the GGUF file at
// `path` in place (same size, so the file stays valid otherwise): the way to
// make a model that declares absurd hyper-parameters. False if the key is
// not found as a uint32.
inline bool set_gguf_u32(const std::string& path, const std::string& key, uint32_t value) {
  std::vector<char> b;
  {
    std::ifstream in(path, std::ios::binary);
    b.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string needle(8, '\0');
  const uint64_t len = key.size();
  std::memcpy(needle.data(), &len, 8);
  needle += key;
  const auto it = std::search(b.begin(), b.end(), needle.begin(), needle.end());
  const size_t at = static_cast<size_t>(it - b.begin()) + needle.size();
  uint32_t type = 0;
  if (it == b.end() || at + 8 > b.size()) return false;
  std::memcpy(&type, b.data() + at, 4);
  if (type != 4) return false;  // GGUF_TYPE_UINT32
  std::memcpy(b.data() + at + 4, &value, 4);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  return static_cast<bool>(out.write(b.data(), static_cast<std::streamsize>(b.size())));
}

}  // namespace dseek::test
