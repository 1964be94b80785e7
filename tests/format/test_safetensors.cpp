// safetensors reader: single files, sharded directories, FP8 with block
// scales, and every kind of lying header.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/float_convert.h"
#include "format/safetensors.h"
#include "kernels/kernels.h"
#include "support/test_support.h"

namespace dseek {
namespace {

// Builds a safetensors file: header JSON (as given) + data bytes.
std::string st_file(const std::string& header, const std::string& data, int64_t lie = 0) {
  std::string out(8, '\0');
  const uint64_t n = header.size() + static_cast<uint64_t>(lie);
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.begin(), s.size());
  return s;
}

Result<Safetensors> parse(const std::string& bytes) {
  return Safetensors::parse({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "t.safetensors");
}

void expect_error(const std::string& bytes, const std::string& fragment) {
  auto r = parse(bytes);
  ASSERT_FALSE(r.ok()) << "expected error: " << fragment;
  EXPECT_NE(r.message().find(fragment), std::string::npos) << r.message();
  EXPECT_EQ(r.message().rfind("t.safetensors: ", 0), 0u) << r.message();
}

TEST(Safetensors, ReadsTensors) {
  const std::string h =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[16,20]}})";
  const std::string bytes = st_file(h, floats({1, 2, 3, 4}) + std::string("\x80\x3f\x00\x40", 4));
  auto r = parse(bytes);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->tensors().size(), 2u);
  const auto* a = r->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
  float x[4];
  std::memcpy(x, a->data.data(), 16);
  EXPECT_EQ(x[3], 4.0f);
  const auto* b = r->find("b");
  uint16_t bf[2];
  std::memcpy(bf, b->data.data(), 4);
  EXPECT_EQ(bf16_to_f32(bf[0]), 1.0f);
  EXPECT_EQ(bf16_to_f32(bf[1]), 2.0f);
}

TEST(Safetensors, LyingHeaders) {
  const std::string ok_h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_error(std::string("\x01\x02", 2), "too short");
  expect_error(st_file(ok_h, floats({1, 2}), 1000), "header length");
  expect_error(st_file(ok_h, floats({1, 2}), -5), "not valid JSON");
  expect_error(st_file("[1,2]", ""), "not a JSON object");
  expect_error(st_file(R"({"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", floats({1, 2})), "unsupported dtype 'Q9'");
  expect_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}})", floats({1, 2})), "outside the 8-byte data section");
  expect_error(st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})), "need 12");
  expect_error(st_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", floats({1, 2})), "non-negative");
  expect_error(st_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", floats({1, 2})), "overflow");
  expect_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", floats({1, 2})), "outside");
  expect_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", floats({1, 2})), "data_offsets must be");
  expect_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       floats({1, 2})), "overlap");
}

TEST(Safetensors, ShardedDirectoryAndFp8BlockScales) {
  test::TempDir dir;
  // Shard 1: an FP8 weight [2, 130] (two column blocks) and its scales [1, 2].
  std::string w(260, '\x38');  // every weight 1.0 in e4m3
  const std::string h1 = R"({"w.weight":{"dtype":"F8_E4M3","shape":[2,130],"data_offsets":[0,260]},)"
                         R"("w.weight_scale_inv":{"dtype":"F32","shape":[1,2],"data_offsets":[260,268]}})";
  test::write_file(dir / "model-00001-of-00002.safetensors", st_file(h1, w + floats({0.5f, 3.0f})));
  test::write_file(dir / "model-00002-of-00002.safetensors",
                   st_file(R"({"n.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floats({7})));
  nlohmann::json index = {{"metadata", {{"total_size", 272}}},
                          {"weight_map", {{"w.weight", "model-00001-of-00002.safetensors"},
                                          {"w.weight_scale_inv", "model-00001-of-00002.safetensors"},
                                          {"n.weight", "model-00002-of-00002.safetensors"}}}};
  test::write_file(dir / "model.safetensors.index.json", index.dump());
  auto r = Safetensors::open(dir.path().string());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->tensors().size(), 3u);
  EXPECT_EQ(r->files().size(), 2u);
  const auto* wt = r->find("w.weight");
  const auto* sc = r->find("w.weight_scale_inv");
  ASSERT_TRUE(wt && sc);
  EXPECT_EQ(wt->dtype, DType::kF8E4M3);
  std::vector<float> row(130);
  float scales[2];
  std::memcpy(scales, sc->data.data(), 8);
  kernels::dequantize_fp8_block_row(reinterpret_cast<const uint8_t*>(wt->data.data()), scales, 2, 130, 1, row.data());
  EXPECT_EQ(row[0], 0.5f);
  EXPECT_EQ(row[127], 0.5f);
  EXPECT_EQ(row[128], 3.0f);

  // The index names a shard that is not there.
  index["weight_map"]["extra"] = "model-00003-of-00002.safetensors";
  test::write_file(dir / "model.safetensors.index.json", index.dump());
  auto missing = Safetensors::open(dir.path().string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("'model-00003-of-00002.safetensors'"), std::string::npos) << missing.message();
  EXPECT_NE(missing.message().find("does not exist"), std::string::npos);

  // The index names a tensor its shard does not hold.
  index["weight_map"].erase("extra");
  index["weight_map"]["ghost"] = "model-00002-of-00002.safetensors";
  test::write_file(dir / "model.safetensors.index.json", index.dump());
  auto ghost = Safetensors::open(dir.path().string());
  ASSERT_FALSE(ghost.ok());
  EXPECT_NE(ghost.message().find("'ghost' is not in its shard"), std::string::npos) << ghost.message();

  // A shard path that escapes the directory is refused.
  index["weight_map"].erase("ghost");
  index["weight_map"]["x"] = "../etc/passwd";
  test::write_file(dir / "model.safetensors.index.json", index.dump());
  EXPECT_FALSE(Safetensors::open(dir.path().string()).ok());
}

}  // namespace
}  // namespace dseek
