// The file-safety helpers every writer uses: CRC-32 against the standard
// check value, atomic writes (all or nothing, no temporary left behind), and
// file identity through links.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/crc32.h"
#include "core/file_identity.h"
#include "support/test_support.h"

namespace dseek {
namespace {

namespace fs = std::filesystem;

TEST(Crc32, StandardCheckValue) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(crc32("", 0), 0u);
  Crc32 c;  // piecewise equals whole, across the 4-byte stride
  c.update("12345", 5);
  c.update("6789", 4);
  EXPECT_EQ(c.value(), 0xCBF43926u);
  std::string s(1000, 'x');
  const uint32_t a = crc32(s.data(), s.size());
  s[517] ^= 0x10;
  EXPECT_NE(crc32(s.data(), s.size()), a) << "one flipped bit changes the checksum";
}

TEST(AtomicFile, WritesAllOrNothing) {
  test::TempDir dir;
  const std::string p = (dir / "f.txt").string();
  ASSERT_TRUE(write_file_atomically(p, "first").ok());
  ASSERT_TRUE(write_file_atomically(p, "second").ok());
  EXPECT_EQ(test::read_file(p), "second");
  EXPECT_FALSE(fs::exists(temp_path_for(p)));
  {
    auto f = AtomicFile::create(p);  // dropped without commit: the old file stays
    ASSERT_TRUE(f.ok());
    std::fputs("half", f->file());
  }
  EXPECT_EQ(test::read_file(p), "second");
  EXPECT_FALSE(fs::exists(temp_path_for(p)));
  fs::create_directory(dir / "d");
  const Status st = write_file_atomically((dir / "d").string(), "x");  // a directory cannot be replaced
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("d"), std::string::npos);
  EXPECT_FALSE(fs::exists(temp_path_for((dir / "d").string())));
  EXPECT_FALSE(write_file_atomically((dir / "missing" / "f").string(), "x").ok());
}

TEST(FileIdentity, LinksAreTheSameFile) {
  test::TempDir dir;
  const std::string a = (dir / "a").string(), b = (dir / "b").string();
  test::write_file(a, "a");
  test::write_file(b, "a");
  fs::create_symlink(a, dir / "sym");
  fs::create_hard_link(a, dir / "hard");
  EXPECT_TRUE(same_file(a, (dir / "sym").string()));
  EXPECT_TRUE(same_file(a, (dir / "hard").string()));
  EXPECT_TRUE(same_file(a, (dir.path() / "." / "a").string()));
  EXPECT_FALSE(same_file(a, b)) << "equal bytes are not the same file";
  EXPECT_FALSE(same_file(a, (dir / "none").string()));
  EXPECT_TRUE(check_output_is_not_input((dir / "new").string(), {a}).ok());
  EXPECT_TRUE(check_output_is_not_input(b, {a}).ok());
  EXPECT_FALSE(check_output_is_not_input((dir / "sym").string(), {a}).ok());
  EXPECT_FALSE(check_output_is_not_input(a, {(dir / "hard").string()}).ok());
  EXPECT_FALSE(check_output_is_not_input(a, {dir.path().string()}).ok()) << "a file inside an input directory";
  fs::create_symlink(a, temp_path_for((dir / "out").string()));
  EXPECT_FALSE(check_output_is_not_input((dir / "out").string(), {a}).ok()) << "the write's temporary file is the input";
}

}  // namespace
}  // namespace dseek
