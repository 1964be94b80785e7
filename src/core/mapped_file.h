// MappedFile: RAII read-only mmap of a whole file. Owns the mapping; views into
// it (std::span) stay valid while the MappedFile lives. Empty files map to an
// empty span (mmap of length 0 is invalid, so no mapping is made).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "core/status.h"

namespace dseek {

// How a model file is brought into memory. The default maps it (pages come
// from the page cache on first touch, shared with other processes).
struct MapOptions {
  bool read_into_memory = false;  // --no-mmap: read it into private memory now (no page faults later)
  bool lock = false;              // --mlock: pin it in RAM so the OS never pages it out
};

class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path, const MapOptions& opt = {});

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace dseek
