// See file_identity.h.
#include "core/file_identity.h"

#include <sys/stat.h>

#include <filesystem>
#include <optional>

#include "core/atomic_file.h"

namespace dseek {
namespace {

struct FileId {
  dev_t dev;
  ino_t ino;
  bool dir;
  bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
};

std::optional<FileId> file_id(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;  // stat follows symbolic links
  return FileId{st.st_dev, st.st_ino, S_ISDIR(st.st_mode)};
}

// The input itself and, for a directory, the files directly inside it.
std::vector<FileId> files_of(const std::string& input) {
  std::vector<FileId> out;
  const auto id = file_id(input);
  if (!id) return out;
  out.push_back(*id);
  if (!id->dir) return out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(input, ec))
    if (const auto f = file_id(e.path().string()); f && !f->dir) out.push_back(*f);
  return out;
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
  const auto x = file_id(a), y = file_id(b);
  return x && y && *x == *y;
}

Status check_output_is_not_input(const std::string& output, const std::vector<std::string>& inputs,
                                 const std::string& what) {
  const auto out = file_id(output), tmp = file_id(temp_path_for(output));
  if (!out && !tmp) return ok_status();
  for (const std::string& in : inputs)
    for (const FileId& f : files_of(in)) {
      if (out && f == *out)
        return Status::error(what + " " + output + " is the same file as the input " + in +
                             ": writing it would destroy the input; choose another output path");
      if (tmp && f == *tmp)
        return Status::error(what + " " + output + " would be written through " + temp_path_for(output) +
                             ", which is the input " + in + "; choose another output path");
    }
  return ok_status();
}

}  // namespace dseek
