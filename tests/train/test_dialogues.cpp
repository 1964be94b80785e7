// `dseek train dialogues`: speeches parsed from a play script, conversations
// (system naming the play and the replier, user = one speech, assistant = the
// next speaker's reply), the held-out tail, the loss mask after rendering with
// the chat template; and the MTP loss of packed SFT rows staying inside each
// conversation.
#include <gtest/gtest.h>

#include <cmath>

#include "support/test_support.h"
#include "tokenizer/jinja/chat_template.h"
#include "train/export.h"
#include "train/recipes/dialogues.h"
#include "train/sft_data.h"

namespace dseek::train {
namespace {

using nlohmann::json;

const std::string kScript =
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\n"
    "ROMEO:\nWhat light through yonder window breaks?\nIt is the east.\n\n"
    "Nurse:\nMadam!\n\n"
    "Nurse:\nYour lady mother.\n\n"
    "JULIET:\nI come, anon.\n\n";

TEST(Dialogues, SpeechesKeepSpeakerAndLines) {
  const auto s = parse_speeches(kScript);
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].speaker, "First Citizen");
  EXPECT_EQ(s[2].speaker, "ROMEO");
  EXPECT_EQ(s[2].text, "What light through yonder window breaks?\nIt is the east.");
  EXPECT_EQ(play_of_speaker("MERCUTIO"), "Romeo and Juliet");
  EXPECT_EQ(play_of_speaker("Nurse"), "");  // several plays have a nurse
}

TEST(Dialogues, PairsBecomeSystemUserAssistantTurns) {
  const DialogueCorpus c = build_dialogues(kScript, DialogueOptions{.heldout_fraction = 0.2});
  // Pairs: Citizen->All, All->ROMEO, ROMEO->Nurse, (Nurse->Nurse skipped), Nurse->JULIET (the held-out tail).
  ASSERT_EQ(c.train.size(), 3u);
  ASSERT_EQ(c.heldout.size(), 1u);
  const json& first = c.train[0]["messages"];
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0]["role"], "system");
  EXPECT_EQ(first[0]["content"], "You are All in a play by William Shakespeare. Answer in character.");
  EXPECT_EQ(first[1]["role"], "user");
  EXPECT_EQ(first[1]["content"], "Before we proceed any further, hear me speak.");
  EXPECT_EQ(first[2]["role"], "assistant");
  EXPECT_EQ(first[2]["content"], "Speak, speak.");
  // ROMEO names the play from his reply on.
  EXPECT_EQ(c.train[1]["messages"][0]["content"],
            "You are ROMEO in Romeo and Juliet, a play by William Shakespeare. Answer in character.");
  EXPECT_EQ(c.train[2]["messages"][2]["content"], "Madam!");
  EXPECT_EQ(c.heldout[0]["messages"][1]["content"], "Your lady mother.");
  EXPECT_EQ(c.heldout[0]["messages"][2]["content"], "I come, anon.");
  // Length limits drop pairs.
  const DialogueCorpus short_only = build_dialogues(kScript, DialogueOptions{.max_user_chars = 20, .heldout_fraction = 0.2});
  EXPECT_EQ(short_only.train.size(), 1u);  // only All -> ROMEO has a short first speech
  EXPECT_EQ(short_only.skipped_long, 2u);
}

TEST(Dialogues, MaskTrainsTheReplyAndItsEndOfSequenceOnly) {
  test::TempDir dir;
  const std::string model = (dir / "tiny.gguf").string();
  ASSERT_EQ(test::run_dseek("init --arch deepseek-v3 --preset tiny --seed 3 -o " + model).exit_code, 0);
  auto tok = Tokenizer::load(model);
  ASSERT_TRUE(tok.ok());
  auto src = load_chat_template(model);
  ASSERT_TRUE(src.ok());
  auto format = ChatFormat::parse(*src, *tok);
  ASSERT_TRUE(format.ok());
  const DialogueCorpus c = build_dialogues(kScript, DialogueOptions{.heldout_fraction = 0.2});
  auto doc = render_conversation(*format, *tok, c.train[1]["messages"]);
  ASSERT_TRUE(doc.ok()) << doc.message();
  std::vector<int32_t> asst, other;
  for (size_t i = 0; i < doc->ids.size(); ++i) (doc->assistant[i] ? asst : other).push_back(doc->ids[i]);
  EXPECT_EQ(tok->decode(asst), "What light through yonder window breaks?\nIt is the east." + format->eos_text);
  const std::string o = tok->decode(other);
  EXPECT_NE(o.find("You are ROMEO"), std::string::npos) << o;
  EXPECT_NE(o.find("Speak, speak."), std::string::npos) << o;
}

TEST(Dialogues, CliWritesTrainAndHeldOutFiles) {
  test::TempDir dir;
  test::write_file(dir / "play.txt", kScript);
  const std::string out = (dir / "chats.jsonl").string();
  const auto r = test::run_dseek("train dialogues " + (dir / "play.txt").string() + " -o " + out + " --heldout-fraction 0.2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(out).size() > 0, true);
  const std::string held = test::read_file((dir / "chats.heldout.jsonl").string());
  EXPECT_EQ(json::parse(held.substr(0, held.find('\n')))["messages"][2]["content"], "I come, anon.");
}

// Two conversations packed in one row with a boundary give the MTP loss of
// the two alone: no MTP target or attention crosses the boundary.
TEST(Dialogues, PackedMtpLossStaysInsideEachConversation) {
  test::TempDir dir;
  const std::string model = (dir / "tiny.gguf").string();
  ASSERT_EQ(test::run_dseek("init --arch deepseek-v3 --preset tiny --seed 3 -o " + model).exit_code, 0);
  auto m = import_gguf(model, 32);
  ASSERT_TRUE(m.ok()) << m.message();
  ASSERT_GT((*m)->hparams().n_mtp, 0);
  ThreadPool pool(1);
  const std::vector<int32_t> a = {5, 9, 14, 3, 7, 21, 2}, b = {11, 4, 8, 30, 6};
  const LossOptions plain{.balance_alpha = 0, .backward = false};
  const StepResult ra = (*m)->step(pool, a, 1, plain), rb = (*m)->step(pool, b, 1, plain);
  std::vector<int32_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  const std::vector<int64_t> starts = {0, static_cast<int64_t>(a.size()), static_cast<int64_t>(ab.size())};
  LossOptions packed = plain;
  packed.segment_starts = starts;
  const StepResult rab = (*m)->step(pool, ab, 1, packed);
  const double na = static_cast<double>(a.size() - 2), nb = static_cast<double>(b.size() - 2);
  EXPECT_NEAR(rab.mtp_ce, (ra.mtp_ce * na + rb.mtp_ce * nb) / (na + nb), 1e-5);
}

}  // namespace
}  // namespace dseek::train
