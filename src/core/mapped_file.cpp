// RAII mmap. See mapped_file.h.
#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace dseek {

namespace {

// Reads the whole file into fresh anonymous memory, then makes it read-only.
const std::byte* read_whole(int fd, size_t size, const std::string& path, std::string* error) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    *error = path + ": cannot allocate " + std::to_string(size >> 20) + " MiB to read it into: " + std::strerror(errno);
    return nullptr;
  }
  auto* dst = static_cast<char*>(p);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, dst + done, std::min<size_t>(size - done, size_t{1} << 30), static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = path + ": read failed at byte " + std::to_string(done) + ": " + (n < 0 ? std::strerror(errno) : "file shrank");
      ::munmap(p, size);
      return nullptr;
    }
    done += static_cast<size_t>(n);
  }
  ::mprotect(p, size, PROT_READ);
  return static_cast<const std::byte*>(p);
}

}  // namespace

Result<MappedFile> MappedFile::open(const std::string& path, const MapOptions& opt) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::error(path + ": cannot stat: " + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::error(path + ": is a directory, expected a file");
  }
  MappedFile f;
  f.path_ = path;
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ > 0 && opt.read_into_memory) {
    std::string error;
    f.data_ = read_whole(fd, f.size_, path, &error);
    if (!f.data_) {
      ::close(fd);
      return Status::error(error);
    }
  } else if (f.size_ > 0) {
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      return Status::error(path + ": cannot mmap: " + std::strerror(e));
    }
    f.data_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
  if (opt.lock && f.size_ > 0 && ::mlock(f.data_, f.size_) != 0) {
    const int e = errno;
    return Status::error(path + ": cannot lock " + std::to_string(f.size_ >> 20) + " MiB in memory: " + std::strerror(e) +
                         " (raise the limit with `ulimit -l`, add RAM, or run without --mlock)");
  }
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace dseek
