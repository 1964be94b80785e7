// `dseek train tokenizer`: a BPE learned from a local language's text loads in
// dseek's tokenizer, round-trips unseen text exactly, compresses the language
// well, and a model built on it (`dseek init --tokenizer`) runs; bad input is
// a clear error.
#include <gtest/gtest.h>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace dseek {
namespace {

using test::run_dseek;

TEST(CliTrain, TokenizerForALocalLanguage) {
  const auto data = test::testdata_dir();
  if (data.empty()) GTEST_SKIP() << "../shared/testdata not found";
  test::TempDir dir;
  const std::string out = (dir.path() / "th.gguf").string();
  const std::string th = (data / "multilingual/th.txt").string();
  const std::string text = test::read_file(th);
  // Train on the first three quarters, test on the rest.
  const size_t cut = text.find('\n', text.size() * 3 / 4);
  test::write_file(dir.path() / "train.txt", text.substr(0, cut));
  const std::string held_out = text.substr(cut + 1);
  auto r = run_dseek("train tokenizer --vocab 600 --data '" + (dir.path() / "train.txt").string() + "' -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("600 tokens"), std::string::npos) << r.out;
  auto tok = Tokenizer::load(out);
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ(tok->vocab_size(), 600u);
  EXPECT_TRUE(tok->token_id("<｜User｜>").has_value());
  const auto ids = tok->encode(held_out, EncodeOptions{false, false});
  EXPECT_EQ(tok->decode(ids), held_out);
  // Thai is 3 bytes a character in UTF-8; learned merges must do much better than bytes.
  EXPECT_GT(static_cast<double>(held_out.size()) / static_cast<double>(ids.size()), 2.5);
  // Same data, same vocabulary: training is deterministic.
  const std::string again = (dir.path() / "again.gguf").string();
  ASSERT_EQ(run_dseek("train tokenizer --vocab 600 --data '" + (dir.path() / "train.txt").string() + "' -o '" + again + "'").exit_code, 0);
  EXPECT_EQ(test::read_file(again), test::read_file(out));
  // A model on the new vocabulary runs end to end.
  const std::string model = (dir.path() / "m.gguf").string();
  auto init = run_dseek("init --arch deepseek-v3 --preset tiny --tokenizer '" + out + "' -o '" + model + "'");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  auto run = run_dseek("run -m '" + model + "' -p 'สวัสดี' -n 8 --seed 1");
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST(CliTrain, BadInputIsAClearError) {
  test::TempDir dir;
  test::write_file(dir.path() / "empty.txt", "");
  test::write_file(dir.path() / "t.txt", "some text some text");
  const std::string out = (dir.path() / "o.gguf").string();
  EXPECT_EQ(run_dseek("train tokenizer --vocab 1000 --data '" + (dir.path() / "empty.txt").string() + "' -o '" + out + "'").exit_code, 2);
  EXPECT_EQ(run_dseek("train tokenizer --vocab 10 --data '" + (dir.path() / "t.txt").string() + "' -o '" + out + "'").exit_code, 2);
  auto pre = run_dseek("train tokenizer --vocab 1000 --pre nonsense --data '" + (dir.path() / "t.txt").string() + "' -o '" + out + "'");
  EXPECT_EQ(pre.exit_code, 2);
  EXPECT_NE(pre.err.find("--pre"), std::string::npos);
  EXPECT_EQ(run_dseek("train tokenizer --vocab 1000 --data /nonexistent.txt -o '" + out + "'").exit_code, 2);
  EXPECT_EQ(run_dseek("train").exit_code, 2);
  auto help = run_dseek("train tokenizer --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--vocab"), std::string::npos);
}

TEST(CliTrain, RecipesRefuseBadConfigsAndHaveHelp) {
  test::TempDir dir;
  test::write_file(dir.path() / "t.txt", "some text some text");
  test::write_file(dir.path() / "bad.json", "{\"model\": {\"hidden_size\": ");
  test::write_file(dir.path() / "neg.json", "{\"model\": {\"hidden_size\": 32}, \"training\": {\"lr\": -1}}");
  const std::string data = " --data '" + (dir.path() / "t.txt").string() + "' -o '" + (dir.path() / "m.gguf").string() + "'";
  auto missing = run_dseek("train pretrain --config /nonexistent.json" + data);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent.json"), std::string::npos);
  auto bad = run_dseek("train pretrain --config '" + (dir.path() / "bad.json").string() + "'" + data);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("JSON"), std::string::npos);
  EXPECT_EQ(run_dseek("train pretrain --config '" + (dir.path() / "neg.json").string() + "'" + data).exit_code, 2);
  EXPECT_EQ(run_dseek("train distill --teacher /nonexistent.gguf --config '" + (dir.path() / "bad.json").string() + "'" + data).exit_code, 2);
  EXPECT_EQ(run_dseek("train grpo --task arithmetic").exit_code, 2);  // needs --model and -o
  EXPECT_EQ(run_dseek("train grpo --model /nonexistent.gguf -o '" + (dir.path() / "p.gguf").string() + "'").exit_code, 2);
  for (const char* recipe : {"pretrain", "distill", "grpo"}) {
    auto help = run_dseek(std::string("train ") + recipe + " --help");
    EXPECT_EQ(help.exit_code, 0) << recipe;
    EXPECT_NE(help.out.find("--"), std::string::npos) << recipe;
  }
  // The corpus writer of the GRPO task.
  const std::string corpus = (dir.path() / "c.txt").string();
  auto w = run_dseek("train grpo --write-corpus '" + corpus + "' --corpus-lines 10 --corpus-noise 0");
  EXPECT_EQ(w.exit_code, 0) << w.err;
  EXPECT_NE(test::read_file(corpus).find("</think>"), std::string::npos);
}

}  // namespace
}  // namespace dseek
