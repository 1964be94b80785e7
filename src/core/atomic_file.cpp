// See atomic_file.h.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace dseek {
namespace {

std::string reason() { return std::strerror(errno); }

// Makes a rename inside `dir` durable. Some file systems cannot sync a
// directory (EINVAL); the rename itself has then happened, which is all they offer.
Status sync_directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::error(dir + ": cannot open the directory to sync it: " + reason());
  const bool ok = ::fsync(fd) == 0 || errno == EINVAL || errno == EROFS;
  const std::string why = ok ? "" : reason();
  ::close(fd);
  if (!ok) return Status::error(dir + ": cannot sync the directory: " + why);
  return ok_status();
}

}  // namespace

std::string temp_path_for(const std::string& path) { return path + ".tmp"; }

Result<AtomicFile> AtomicFile::create(const std::string& path) {
  const std::string tmp = temp_path_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::error(tmp + ": cannot create: " + reason());
  return AtomicFile(path, f);
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept : path_(std::move(o.path_)), f_(o.f_) { o.f_ = nullptr; }

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (!f_) return;
  std::fclose(f_);
  f_ = nullptr;
  std::remove(temp_path_for(path_).c_str());
}

Status AtomicFile::commit() {
  const std::string tmp = temp_path_for(path_);
  if (!f_) return Status::error(tmp + ": already closed");
  const bool written = std::fflush(f_) == 0 && !std::ferror(f_) && ::fsync(::fileno(f_)) == 0;
  const std::string why = written ? "" : reason();
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!written || !closed) {
    std::remove(tmp.c_str());
    return Status::error(tmp + ": write failed (disk full?): " + (written ? reason() : why));
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    const std::string err = reason();
    std::remove(tmp.c_str());
    return Status::error(path_ + ": cannot rename from " + tmp + ": " + err);
  }
  return sync_directory_of(path_);
}

Status write_file_atomically(const std::string& path, std::string_view bytes) {
  auto f = AtomicFile::create(path);
  if (!f.ok()) return f.status();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f->file()) != bytes.size())
    return Status::error(temp_path_for(path) + ": write failed (disk full?): " + reason());
  return f->commit();
}

Status check_free_space(const std::string& path, uint64_t bytes) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  const fs::space_info info = fs::space(dir, ec);
  if (ec || bytes <= info.available) return ok_status();
  auto gib = [](uint64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ull << 30));
    return std::string(buf);
  };
  return Status::error(path + ": needs " + gib(bytes) + " but only " + gib(info.available) + " is free on " +
                       dir.string() + ": free some space or write it elsewhere");
}

}  // namespace dseek
