// Writing a file so that a crash, a full disk or a power cut never leaves a
// half-written or lost file at its path: the bytes go to PATH.tmp, which is
// flushed to the disk (fsync) before it is renamed over PATH, and the
// directory is synced after the rename so that the new name survives a power
// cut too. Every writer of models, checkpoints, logs and plots goes through here.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "core/status.h"

namespace dseek {

// The temporary name a write to `path` uses (so callers can check it is not one of their inputs).
std::string temp_path_for(const std::string& path);

class AtomicFile {
 public:
  // Creates (or truncates) PATH.tmp for writing.
  static Result<AtomicFile> create(const std::string& path);
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();  // not committed: the temporary file is removed

  std::FILE* file() const { return f_; }
  const std::string& path() const { return path_; }
  // Flushes and syncs the temporary file, renames it over the path and syncs
  // the directory. On failure the temporary file is removed and the message
  // names the path and the reason (e.g. the disk is full).
  Status commit();

 private:
  AtomicFile(std::string path, std::FILE* f) : path_(std::move(path)), f_(f) {}
  void discard();
  std::string path_;
  std::FILE* f_ = nullptr;
};

// The whole of `bytes` written to `path` as above.
Status write_file_atomically(const std::string& path, std::string_view bytes);

// Refuses, before anything is written, a file of `bytes` that the filesystem
// holding `path` has no room for: a disk filled to the last byte breaks other
// programs too, and the write would fail anyway after minutes of work.
// (Unknown free space, e.g. an unreadable directory, is not an error here.)
Status check_free_space(const std::string& path, uint64_t bytes);

}  // namespace dseek
