// `dseek train sft`: the assistant-token mask over a chat-template rendering,
// input errors naming the line, packing with document boundaries, short full
// and LoRA runs that lower the assistant-token loss, and the plain-text mode
// (`--text`) that trains a language adapter.
#include <gtest/gtest.h>

#include <fstream>

#include "model/lora_adapter.h"
#include "support/test_support.h"
#include "tokenizer/jinja/chat_template.h"
#include "train/recipes/sft.h"
#include "train/sft_data.h"

namespace dseek::train {
namespace {

using nlohmann::json;

struct TinyModel {
  test::TempDir dir;
  std::string path = (dir / "tiny.gguf").string();
  TinyModel() {
    const auto r = test::run_dseek("init --arch deepseek-v3 --preset tiny --seed 3 -o " + path);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
};

struct Loaded {
  Tokenizer tok;
  ChatFormat format;
};
Loaded load(const std::string& path) {
  auto tok = Tokenizer::load(path);
  EXPECT_TRUE(tok.ok());
  auto src = load_chat_template(path);
  EXPECT_TRUE(src.ok());
  auto f = ChatFormat::parse(*src, *tok);
  EXPECT_TRUE(f.ok());
  return {std::move(tok).value(), std::move(f).value()};
}

const json kChat = json::array({{{"role", "system"}, {"content", "Be brief."}},
                                {{"role", "user"}, {"content", "hello there"}},
                                {{"role", "assistant"}, {"content", "good day"}},
                                {{"role", "user"}, {"content", "and now?"}},
                                {{"role", "assistant"}, {"content", "farewell"}}});

TEST(SftData, MaskCoversExactlyTheAssistantTurns) {
  TinyModel m;
  const Loaded l = load(m.path);
  auto doc = render_conversation(l.format, l.tok, kChat);
  ASSERT_TRUE(doc.ok()) << doc.message();
  ASSERT_EQ(doc->ids.size(), doc->assistant.size());
  std::vector<int32_t> asst, other;
  for (size_t i = 0; i < doc->ids.size(); ++i) (doc->assistant[i] ? asst : other).push_back(doc->ids[i]);
  const std::string a = l.tok.decode(asst), o = l.tok.decode(other);
  EXPECT_NE(a.find("good day"), std::string::npos) << a;
  EXPECT_NE(a.find("farewell"), std::string::npos) << a;
  EXPECT_EQ(a.find("hello"), std::string::npos) << a;
  EXPECT_EQ(a.find("Be brief"), std::string::npos) << a;
  EXPECT_NE(o.find("hello there"), std::string::npos) << o;
  EXPECT_EQ(o.find("farewell"), std::string::npos) << o;
  // The whole document is the template's rendering, and each assistant turn ends with the EOS text.
  auto full = l.format.render({{"messages", kChat}, {"add_generation_prompt", false}});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(l.tok.decode(doc->ids), *full);
  EXPECT_NE(a.find(l.format.eos_text), std::string::npos) << a;
}

TEST(SftData, BadLinesAreNamed) {
  TinyModel m;
  const Loaded l = load(m.path);
  const std::pair<std::string, std::string> cases[] = {
      {"{\"messages\": [", ":2: not valid JSON"},
      {"{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", "unknown role \"robot\""},
      {"{\"messages\": []}", ":2: \"messages\" must be a non-empty array"},
      {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "no assistant message"},
      {"{\"prompt\": \"x\"}", "expected an object with \"messages\""},
      {"{\"messages\": [{\"role\": \"user\", \"content\": 3}]}", "string \"content\""}};
  for (const auto& [line, want] : cases) {
    const std::string path = (m.dir / "bad.jsonl").string();
    test::write_file(path, json{{"messages", kChat}}.dump() + "\n" + line + "\n");
    auto r = read_sft_file(path, l.format, l.tok);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_NE(r.message().find(want), std::string::npos) << r.message();
    EXPECT_NE(r.message().find("bad.jsonl:2"), std::string::npos) << r.message();
  }
}

TEST(SftData, PackingKeepsDocumentsWholeAndMarksBoundaries) {
  std::vector<SftDocument> docs = {{{1, 2, 3, 4}, {0, 0, 1, 1}}, {{5, 6, 7}, {0, 1, 1}}, {{8, 9, 10, 11, 12}, {0, 0, 0, 1, 1}}};
  PackedBatch b;
  const size_t next = pack_documents(docs, 0, 2, 8, 0, b);
  EXPECT_EQ(next, 0u);  // all three used (the first does not fit after the third), wrapped to the first
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 0, 8, 9, 10, 11, 12, 0, 0, 0}));
  EXPECT_EQ(b.segment_starts, (std::vector<int64_t>{0, 4, 7, 8, 13, 16}));
  // Targets: next token where it is an assistant token of the same document, never across a boundary.
  EXPECT_EQ(b.targets, (std::vector<int32_t>{-1, 3, 4, -1, 6, 7, -1, -1, -1, -1, 11, 12, -1, -1, -1, -1}));
}

std::string write_chats(const test::TempDir& dir) {
  std::string text;
  for (int i = 0; i < 24; ++i)
    text += json{{"messages", json::array({{{"role", "user"}, {"content", "say " + std::to_string(i % 4)}},
                                           {{"role", "assistant"}, {"content", "number " + std::to_string(i % 4)}}})}}
                .dump() + "\n";
  const std::string path = (dir / "chats.jsonl").string();
  test::write_file(path, text);
  return path;
}

TEST(SftRun, FullFineTuningLowersAssistantLoss) {
  TinyModel m;
  SftConfig c{.model = m.path, .data = write_chats(m.dir), .out = (m.dir / "sft.gguf").string(), .steps = 30,
              .batch = 2, .seq_len = 64, .eval_every = 10};
  c.adam.lr = 3e-3;
  auto r = run_sft(c);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_LT(r->final_val_ce, 0.5 * r->initial_val_ce);
  EXPECT_TRUE(std::filesystem::exists(c.out + ".log.json"));
  EXPECT_TRUE(std::filesystem::exists(c.out + ".svg"));
  EXPECT_TRUE(std::filesystem::exists(c.out + ".ckpt"));
  EXPECT_EQ(test::run_dseek("inspect " + c.out).exit_code, 0);
}

TEST(SftRun, LoraWritesAnAdapterAndLowersAssistantLoss) {
  TinyModel m;
  SftConfig c{.model = m.path, .data = write_chats(m.dir), .out = (m.dir / "adapter.gguf").string(), .steps = 30,
              .batch = 2, .seq_len = 64, .eval_every = 10, .lora = true};
  c.adam.lr = 1e-2;
  c.lora_cfg.rank = 4;
  c.lora_cfg.alpha = 8;
  auto r = run_sft(c);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_LT(r->final_val_ce, 0.7 * r->initial_val_ce);
  auto f = read_lora_adapter(c.out);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->alpha, 8.0f);
  EXPECT_FALSE(f->pairs.empty());
  for (const auto& p : f->pairs) {
    EXPECT_EQ(p.rank, 4);
    EXPECT_TRUE(lora_target_supported(p.base)) << p.base;
  }
}

// --val-data validates on its own file, --eval-only reports the same CE
// without training, and the MTP loss is part of the step (its CE is reported).
TEST(SftRun, ValDataEvalOnlyAndMtpLoss) {
  TinyModel m;
  const std::string chats = write_chats(m.dir);
  SftConfig c{.model = m.path, .data = chats, .out = (m.dir / "sft.gguf").string(), .val_data = chats, .steps = 3,
              .batch = 2, .seq_len = 64, .eval_every = 3};
  c.mtp_weight = 1.0;
  auto r = run_sft(c);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->train_docs, 24);
  EXPECT_EQ(r->val_docs, 24);
  EXPECT_GT(r->final_train_mtp_ce, 0.0);
  auto e = run_sft(SftConfig{.model = m.path, .data = chats, .seq_len = 64, .eval_only = true});
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(e->val_docs, 24);
  EXPECT_NEAR(e->final_val_ce, r->initial_val_ce, 1e-9);
}

TEST(SftData, TextWindowsMakeEveryTokenATarget) {
  const std::vector<int32_t> ids = {5, 6, 7, 8, 9, 10, 11};
  const auto docs = text_windows(ids, 3);
  ASSERT_EQ(docs.size(), 2u);  // 3 + 3; the lone last token would predict nothing and is dropped
  EXPECT_EQ(docs[1].ids, (std::vector<int32_t>{8, 9, 10}));
  for (const auto& d : docs) EXPECT_EQ(d.assistant, std::vector<uint8_t>(d.ids.size(), 1));
  const PackedBatch b = single_document(docs[0], 3);
  EXPECT_EQ(b.targets, (std::vector<int32_t>{6, 7, -1}));
  EXPECT_TRUE(text_windows({5}, 3).empty());
}

// `sft --text --lora`: a language adapter on plain text lowers the held-out
// next-token loss; --eval-only --text reports the perplexity.
TEST(SftRun, TextLoraLowersHeldOutLoss) {
  TinyModel m;
  std::string train, heldout;
  const char* words[] = {"semua ", "manusia ", "dilahirkan ", "bebas ", "dan ", "samarata ", "dalam ", "hak "};
  for (int i = 0; i < 120; ++i) {
    std::string& to = i < 100 ? train : heldout;
    to += std::string(words[(i * 3) % 8]) + words[i % 8];
  }
  test::write_file(m.dir / "train.txt", train);
  test::write_file(m.dir / "heldout.txt", heldout);
  SftConfig c{.model = m.path, .data = (m.dir / "train.txt").string(), .out = (m.dir / "lang.gguf").string(),
              .val_data = (m.dir / "heldout.txt").string(), .steps = 20, .batch = 2, .seq_len = 32, .eval_every = 10,
              .lora = true, .text = true};
  c.adam.lr = 1e-2;
  c.lora_cfg.rank = 4;
  auto r = run_sft(c);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_LT(r->final_val_ce, 0.8 * r->initial_val_ce);
  EXPECT_TRUE(read_lora_adapter(c.out).ok());
  const auto e = test::run_dseek("train sft --text --eval-only --seq-len 32 --model " + m.path + " --data " +
                                 (m.dir / "heldout.txt").string());
  EXPECT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("perplexity"), std::string::npos) << e.out;
}

TEST(SftCli, BadInputExitsTwoNamingTheLine) {
  TinyModel m;
  test::write_file(m.dir / "bad.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n{oops\n");
  const auto r = test::run_dseek("train sft --model " + m.path + " --data " + (m.dir / "bad.jsonl").string() + " -o " +
                                 (m.dir / "x.gguf").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.jsonl:2: not valid JSON"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dseek::train
