// `dseek train dialogues`: a chat corpus for supervised fine-tuning made from
// a play script in tinyshakespeare's layout ("SPEAKER:" on its own line, the
// speech below, a blank line between speeches). Each pair of consecutive
// speeches by different speakers becomes one conversation: a system prompt
// naming the play and the replying character, the first speech as the user
// turn, the reply as the assistant turn. The play is recognised from the
// speakers (the text itself has no titles): the last speaker unique to one
// play names it; before any such speaker it is "a play by Shakespeare".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace dseek::train {

struct Speech {
  std::string speaker, text;  // the speaker as written ("ROMEO"), the speech with its line breaks
  size_t offset = 0;          // byte offset of the "SPEAKER:" line in the script
};

// The speeches in script order; anything before the first "NAME:" line is skipped.
std::vector<Speech> parse_speeches(std::string_view script);

// The play a speaker's name belongs to when it is unique to one play of
// tinyshakespeare ("MERCUTIO" -> "Romeo and Juliet"), else empty.
std::string_view play_of_speaker(std::string_view speaker);

struct DialogueOptions {
  size_t max_user_chars = 300, max_reply_chars = 300;  // longer speeches are skipped (replies must end in a few hundred tokens)
  double heldout_fraction = 0.05;  // the script's tail (pretrain's validation text) becomes the held-out split
};

struct DialogueCorpus {
  std::vector<nlohmann::json> train, heldout;  // {"messages": [system, user, assistant]}
  size_t skipped_long = 0;                     // pairs left out for length
};

// The system prompt of a reply: "You are ROMEO in Romeo and Juliet, a play by
// William Shakespeare. Answer in character." (the play part falls back to
// "a play by William Shakespeare" when unknown).
std::string dialogue_system_prompt(std::string_view speaker, std::string_view play);

// Pairs whose reply starts in the last heldout_fraction of the script's bytes
// go to `heldout`, so no held-out reply is a training target.
DialogueCorpus build_dialogues(std::string_view script, const DialogueOptions& opt);

// Writes the corpus as JSONL (one conversation a line) to `train_path` and `heldout_path`.
Status write_dialogues(const DialogueCorpus& corpus, const std::string& train_path, const std::string& heldout_path);

}  // namespace dseek::train
