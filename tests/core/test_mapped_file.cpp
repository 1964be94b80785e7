// MappedFile: the three ways a model file comes into memory (mapped, read into
// private memory, either one locked) give the same bytes; errors name the file.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/mapped_file.h"
#include "support/test_support.h"

namespace dseek {
namespace {

TEST(MappedFile, MappedReadAndLockedGiveTheSameBytes) {
  test::TempDir dir;
  const auto path = dir.path() / "blob.bin";
  std::string data(3 * 4096 + 17, '\0');
  std::mt19937 rng(1);
  for (auto& c : data) c = static_cast<char>(rng());
  test::write_file(path, data);
  for (const MapOptions opt : {MapOptions{false, false}, MapOptions{true, false}, MapOptions{false, true}, MapOptions{true, true}}) {
    auto f = MappedFile::open(path.string(), opt);
    if (!f.ok() && opt.lock) {  // a small RLIMIT_MEMLOCK is a clear error, not a crash
      EXPECT_NE(f.message().find("ulimit -l"), std::string::npos) << f.message();
      continue;
    }
    ASSERT_TRUE(f.ok()) << f.message();
    ASSERT_EQ(f->size(), data.size());
    EXPECT_EQ(0, std::memcmp(f->bytes().data(), data.data(), data.size())) << opt.read_into_memory << opt.lock;
    MappedFile moved = std::move(f).value();  // ownership moves; the bytes stay valid
    EXPECT_EQ(moved.bytes()[5], static_cast<std::byte>(data[5]));
  }
  test::write_file(dir.path() / "empty.bin", "");
  auto empty = MappedFile::open((dir.path() / "empty.bin").string(), MapOptions{true, false});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
  auto missing = MappedFile::open((dir.path() / "nope.bin").string(), MapOptions{true, false});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope.bin"), std::string::npos);
}

}  // namespace
}  // namespace dseek
