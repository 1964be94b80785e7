// `dseek logits` as other tools drive it: the float32 [n_tokens x n_vocab]
// output contract, and clear errors (exit 2) for models whose tensors
// contradict their hyper-parameters, missing tensors, bad ids and long prompts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstring>
#include <functional>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

// Rewrites `src` to `dst`, letting `edit` change metadata and drop tensors.
void rewrite(const std::string& src, const std::string& dst,
             const std::function<void(GgufWriter&)>& edit_meta, const std::string& drop_tensor = "") {
  auto f = GgufFile::open(src);
  ASSERT_TRUE(f.ok());
  GgufWriter w;
  for (const auto& [k, v] : f->metadata()) w.set(k, v);
  edit_meta(w);
  std::vector<const GgufTensorInfo*> kept;
  for (const auto& t : f->tensors()) {
    if (t.name == drop_tensor) continue;
    kept.push_back(&t);
    w.add_tensor(t.name, t.dtype, t.ne);
  }
  ASSERT_TRUE(w.write(dst, [&](size_t i, std::span<std::byte> out) {
                 auto d = f->tensor_data(*kept[i]);
                 std::memcpy(out.data(), d.data(), out.size());
                 return ok_status();
               }).ok());
}

TEST(CliLogits, WritesFloat32LogitsForEveryPosition) {
  test::TempDir dir;
  const auto model = (dir / "m.gguf").string(), out = (dir / "l.bin").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 -o '" + model + "'").exit_code, 0);
  for (const char* mode : {"naive", "absorbed"}) {
    auto r = run_dseek("logits -m '" + model + "' --tokens '5 17 300 2' --mode " + mode + " -t 2 -o '" + out + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string bytes = test::read_file(out);
    ASSERT_EQ(bytes.size(), 4u * 512 * 4) << "[4 tokens x 512 vocab] float32";
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    for (float x : v) ASSERT_TRUE(std::isfinite(x));
  }
  auto mtp = run_dseek("logits -m '" + model + "' --tokens '5 17 300 2' --mtp -o '" + out + "'");
  ASSERT_EQ(mtp.exit_code, 0) << mtp.err;
  EXPECT_EQ(test::read_file(out).size(), 3u * 512 * 4) << "MTP drafts for positions 0..T-2";
}

void expect_bad(const test::CommandResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(CliLogits, BadModelsAndInputsAreClearErrors) {
  test::TempDir dir;
  const auto model = (dir / "m.gguf").string(), out = (dir / "l.bin").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 -o '" + model + "'").exit_code, 0);
  const auto missing = (dir / "missing.gguf").string();
  rewrite(model, missing, [](GgufWriter&) {}, "blk.1.attn_kv_a_mqa.weight");
  expect_bad(run_dseek("logits -m '" + missing + "' --tokens '1 2' -o '" + out + "'"), "missing tensor 'blk.1.attn_kv_a_mqa.weight'");
  const auto wrong = (dir / "wrong.gguf").string();
  rewrite(model, wrong, [](GgufWriter& w) { w.set("deepseek2.attention.kv_lora_rank", GgufValue::u32(48)); });
  expect_bad(run_dseek("logits -m '" + wrong + "' --tokens '1 2' -o '" + out + "'"), "but the hyper-parameters say");
  const auto short_ctx = (dir / "short.gguf").string();
  rewrite(model, short_ctx, [](GgufWriter& w) { w.set("deepseek2.context_length", GgufValue::u32(3)); });
  expect_bad(run_dseek("logits -m '" + short_ctx + "' --tokens '1 2 3 4' -o '" + out + "'"), "more than the model's context of 3");
  expect_bad(run_dseek("logits -m '" + model + "' --tokens '1 512' -o '" + out + "'"), "token id 512 is outside the vocabulary");
  expect_bad(run_dseek("logits -m '" + model + "' --tokens '1 x' -o '" + out + "'"), "'x' is not a token id");
  expect_bad(run_dseek("logits -m '" + model + "' --tokens '' -o '" + out + "'"), "no token ids");
  expect_bad(run_dseek("logits -m '" + model + "' --tokens '1' --mode fast -o '" + out + "'"), "--mode");
  EXPECT_FALSE(std::filesystem::exists(out)) << "no output file on error";
  // A vocabulary-only GGUF cannot run, and says why.
  const auto data = test::testdata_dir();
  if (!data.empty())
    expect_bad(run_dseek("logits -m '" + (data / "tokenizer/ggml-vocab-deepseek-llm.gguf").string() + "' --tokens '1' -o '" + out + "'"),
               "missing tensor");
}

}  // namespace
}  // namespace dseek
