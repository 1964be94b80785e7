// GGUF reader and writer: round trips of every metadata type and tensor dtype,
// and one test per kind of corrupt file (each must fail with an error naming
// the problem, never crash, over-read or allocate absurdly).
#include <gtest/gtest.h>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "kernels/kernels.h"
#include "support/test_support.h"
#include "gguf_bytes.h"

namespace dseek {
namespace {

using test::GgufBytes;

GgufValue nested_array() {
  GgufArray inner1 = {GgufValue::i32(1), GgufValue::i32(-2)};
  GgufArray inner2 = {GgufValue::i32(3)};
  return GgufValue::array(GgufType::kArray, {GgufValue::array(GgufType::kInt32, inner1),
                                              GgufValue::array(GgufType::kInt32, inner2)});
}

TEST(GgufWriter, RoundTripsEveryValueTypeAndDtype) {
  test::TempDir dir;
  GgufWriter w(64);
  w.set("u8", {GgufType::kUint8, GgufType::kUint8, uint64_t{200}});
  w.set("i8", {GgufType::kInt8, GgufType::kUint8, int64_t{-100}});
  w.set("u16", {GgufType::kUint16, GgufType::kUint8, uint64_t{60000}});
  w.set("i16", {GgufType::kInt16, GgufType::kUint8, int64_t{-30000}});
  w.set("u32", GgufValue::u32(4000000000u));
  w.set("i32", GgufValue::i32(-2000000000));
  w.set("u64", GgufValue::u64(1ull << 60));
  w.set("i64", {GgufType::kInt64, GgufType::kUint8, int64_t{-(1ll << 60)}});
  w.set("f32", GgufValue::f32(0.5f));
  w.set("f64", {GgufType::kFloat64, GgufType::kUint8, 1e300});
  w.set("bool", GgufValue::boolean(true));
  w.set("str", GgufValue::str("héllo\nwörld"));
  w.set("strs", GgufValue::string_array({"a", "", "<｜User｜>"}));
  w.set("nested", nested_array());
  w.set("empty", GgufValue::array(GgufType::kFloat32, {}));
  const DType types[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                         DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
  for (DType t : types) w.add_tensor(std::string("t_") + std::string(dtype_name(t)), t, {256, 3});
  auto fill = [&](size_t i, std::span<std::byte> out) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = static_cast<std::byte>((k * 31 + i) & 0xFF);
    return ok_status();
  };
  const auto path = (dir / "m.gguf").string();
  ASSERT_TRUE(w.write(path, fill).ok());

  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  // Every key we set, with its declared type and value (plus general.alignment).
  ASSERT_EQ(f->metadata().size(), 16u);
  EXPECT_EQ(*f->find("u8"), (GgufValue{GgufType::kUint8, GgufType::kUint8, uint64_t{200}}));
  EXPECT_EQ(*f->find("i16"), (GgufValue{GgufType::kInt16, GgufType::kUint8, int64_t{-30000}}));
  EXPECT_EQ(f->get_int("u32"), 4000000000ll);
  EXPECT_EQ(f->get_int("i64"), -(1ll << 60));
  EXPECT_EQ(f->get_float("f64"), 1e300);
  EXPECT_EQ(f->get_bool("bool"), true);
  EXPECT_EQ(f->get_string("str"), "héllo\nwörld");
  EXPECT_EQ(f->get_string_array("strs"), (std::vector<std::string>{"a", "", "<｜User｜>"}));
  EXPECT_EQ(*f->find("nested"), nested_array());
  EXPECT_EQ(f->find("empty")->to_array()->size(), 0u);
  ASSERT_EQ(f->tensors().size(), std::size(types));
  for (size_t i = 0; i < std::size(types); ++i) {
    const auto& t = f->tensors()[i];
    EXPECT_EQ(t.dtype, types[i]);
    EXPECT_EQ(t.ne, (std::vector<int64_t>{256, 3}));
    EXPECT_EQ(t.offset % 64, 0u);
    auto data = f->tensor_data(t);
    ASSERT_EQ(data.size(), *dtype_bytes(types[i], 768));
    for (size_t k = 0; k < data.size(); ++k) ASSERT_EQ(data[k], static_cast<std::byte>((k * 31 + i) & 0xFF));
  }
}

TEST(GgufWriter, RewritingAFileReproducesItByteForByte) {
  test::TempDir dir;
  const auto a = (dir / "a.gguf").string(), b = (dir / "b.gguf").string();
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  w.set("x", nested_array());
  w.add_tensor("w", DType::kQ8_0, {64, 5});
  w.add_tensor("v", DType::kF32, {7});
  ASSERT_TRUE(w.write(a, [](size_t i, std::span<std::byte> o) {
                 for (auto& x : o) x = std::byte{static_cast<unsigned char>(i + 1)};
                 return ok_status();
               }).ok());
  auto f = GgufFile::open(a);
  ASSERT_TRUE(f.ok());
  GgufWriter w2(f->alignment());
  for (const auto& [k, v] : f->metadata()) w2.set(k, v);
  for (const auto& t : f->tensors()) w2.add_tensor(t.name, t.dtype, t.ne);
  ASSERT_TRUE(w2.write(b, [&](size_t i, std::span<std::byte> o) {
                  auto src = f->tensor_data(f->tensors()[i]);
                  std::copy(src.begin(), src.end(), o.begin());
                  return ok_status();
                }).ok());
  EXPECT_EQ(test::read_file(a), test::read_file(b));
}

TEST(GgufWriter, FailedFillLeavesNoFile) {
  test::TempDir dir;
  const auto path = (dir / "x.gguf").string();
  GgufWriter w;
  w.add_tensor("a", DType::kF32, {4});
  Status st = w.write(path, [](size_t, std::span<std::byte>) { return Status::error("boom"); });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

// A valid minimal file: one key, one f32 tensor of 8 elements.
GgufBytes valid_file() {
  GgufBytes g;
  g.header(3, 1, 1).kv_u32("general.alignment", 32).tensor("w", {8}, 0, 0).pad(32).zeros(32);
  return g;
}

Result<GgufFile> parse(const GgufBytes& g) { return GgufFile::parse(g.span(), "test.gguf"); }

void expect_error(const GgufBytes& g, const std::string& fragment) {
  auto r = parse(g);
  ASSERT_FALSE(r.ok()) << "expected an error containing '" << fragment << "'";
  EXPECT_NE(r.message().find(fragment), std::string::npos) << r.message();
  EXPECT_EQ(r.message().rfind("test.gguf: ", 0), 0u) << "error must name the file: " << r.message();
  EXPECT_EQ(r.message().find('\n'), std::string::npos) << "one line";
}

TEST(GgufReader, ValidMinimalFile) {
  auto r = parse(valid_file());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->tensors()[0].n_bytes, 32u);
}

TEST(GgufReader, EveryTruncationFailsCleanly) {
  GgufBytes g = valid_file();
  for (size_t n = 0; n < g.bytes().size(); ++n) {
    auto r = GgufFile::parse(g.span().first(n), "t.gguf");
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
  }
}

TEST(GgufReader, BadMagicAndVersion) {
  GgufBytes g = valid_file();
  g.bytes()[0] = 'X';
  expect_error(g, "bad magic");
  GgufBytes v1;
  v1.header(1, 0, 0);
  expect_error(v1, "version 1 is not supported");
  GgufBytes v9;
  v9.header(9, 0, 0);
  expect_error(v9, "version 9");
}

TEST(GgufReader, AbsurdCounts) {
  GgufBytes kv;
  kv.header(3, 0, 1ull << 60);
  expect_error(kv, "metadata entries, more than the file can hold");
  GgufBytes t;
  t.header(3, 1ull << 62, 0);
  expect_error(t, "tensors, more than the file can hold");
  GgufBytes s;
  s.header(3, 0, 1).put<uint64_t>(1ull << 40).zeros(20);
  expect_error(s, "length 1099511627776 is absurd");
  GgufBytes arr;
  arr.header(3, 0, 1).str("a").put<uint32_t>(9).put<uint32_t>(5).put<uint64_t>(1ull << 50).zeros(8);
  expect_error(arr, "more than the file can hold");
  GgufBytes long_str;
  long_str.header(3, 0, 1).str("k").put<uint32_t>(8).put<uint64_t>(1000).zeros(10);
  expect_error(long_str, "runs past the end");
}

TEST(GgufReader, BadValues) {
  GgufBytes type;
  type.header(3, 0, 1).str("k").put<uint32_t>(13).zeros(8);
  expect_error(type, "unknown value type 13");
  GgufBytes b;
  b.header(3, 0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2);
  expect_error(b, "neither 0 nor 1");
  GgufBytes deep;
  deep.header(3, 0, 1).str("k").put<uint32_t>(9);
  for (int i = 0; i < 20; ++i) deep.put<uint32_t>(9).put<uint64_t>(1);
  deep.put<uint32_t>(4).put<uint64_t>(1).put<uint32_t>(0);
  expect_error(deep, "nested deeper");
  GgufBytes dup;
  dup.header(3, 0, 2).kv_u32("a", 1).kv_u32("a", 2);
  expect_error(dup, "duplicate metadata key 'a'");
  GgufBytes align;
  align.header(3, 0, 1).kv_u32("general.alignment", 48);
  expect_error(align, "power of two");
}

TEST(GgufReader, BadTensors) {
  auto one_tensor = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data) {
    GgufBytes g;
    g.header(3, 1, 0).tensor("w", std::move(ne), type, offset).pad(32).zeros(data);
    return g;
  };
  expect_error(one_tensor({8}, 77, 0, 32), "unsupported ggml type 77");
  expect_error(one_tensor({}, 0, 0, 32), "0 dimensions");
  expect_error(one_tensor({1, 1, 1, 1, 1}, 0, 0, 32), "5 dimensions");
  expect_error(one_tensor({1ull << 40, 1ull << 40}, 0, 0, 32), "overflows");
  expect_error(one_tensor({1ull << 62}, 0, 0, 32), "byte size overflows");
  expect_error(one_tensor({8}, 0, 4, 64), "not a multiple of the alignment");
  expect_error(one_tensor({8}, 0, 0, 16), "runs past the end");
  expect_error(one_tensor({8}, 0, 1ull << 60, 32), "runs past the end");
  expect_error(one_tensor({33}, 8, 0, 64), "not a whole number of q8_0 blocks");
  GgufBytes overlap;
  overlap.header(3, 2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad(32).zeros(64);
  expect_error(overlap, "'a' and 'b' overlap");
  GgufBytes misaligned;
  misaligned.header(3, 1, 1).kv_u32("general.alignment", 1).tensor("w", {8}, 0, 3).zeros(64);
  expect_error(misaligned, "not 8-byte aligned");
  GgufBytes dup;
  dup.header(3, 2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad(32).zeros(64);
  expect_error(dup, "duplicate tensor name 'a'");
}

TEST(GgufReader, OpenReportsMissingFileAndDirectory) {
  auto r = GgufFile::open("/nonexistent/x.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cannot open"), std::string::npos);
  auto d = GgufFile::open("/tmp");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.message().find("is a directory"), std::string::npos);
}

TEST(GgufReader, RealFilesFromSharedTestdata) {
  const auto dir = test::testdata_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata not found: real GGUF files not checked";
  auto f = GgufFile::open((dir / "llama2c/stories260K.gguf").string());
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->tensors().size(), 48u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  auto v = GgufFile::open((dir / "tokenizer/ggml-vocab-deepseek-llm.gguf").string());
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->get_string_array("tokenizer.ggml.tokens")->size(), 102400u);
  EXPECT_EQ(v->get_string_array("tokenizer.ggml.merges")->size(), 99757u);
  EXPECT_EQ(v->get_int("tokenizer.ggml.bos_token_id"), 100000);
}

}  // namespace
}  // namespace dseek
