// Helpers shared by all test binaries: where the shared test data is, temp
// files that clean up after themselves, and running the dseek binary.
#pragma once

#include <filesystem>
#include <string>

namespace dseek::test {

// ../shared/testdata (or $DSEEK_TESTDATA); empty path if it does not exist.
std::filesystem::path testdata_dir();

// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs build/bin/dseek with a shell-quoted argument string; stdin from `input`.
CommandResult run_dseek(const std::string& args, const std::string& input = "");

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& data);

}  // namespace dseek::test
