// See dialogues.h.
#include "train/recipes/dialogues.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <utility>

namespace dseek::train {
namespace {

using nlohmann::json;

// Speakers who appear in only one of tinyshakespeare's plays (checked against
// the text: each name below occurs in one contiguous stretch of it).
constexpr std::array<std::pair<std::string_view, std::string_view>, 44> kSignatureSpeakers{{
    {"MENENIUS", "Coriolanus"}, {"CORIOLANUS", "Coriolanus"}, {"MARCIUS", "Coriolanus"}, {"SICINIUS", "Coriolanus"},
    {"VOLUMNIA", "Coriolanus"}, {"AUFIDIUS", "Coriolanus"}, {"COMINIUS", "Coriolanus"},
    {"KING RICHARD III", "Richard III"}, {"LADY ANNE", "Richard III"}, {"BRAKENBURY", "Richard III"},
    {"CATESBY", "Richard III"}, {"RICHMOND", "Richard III"}, {"TYRREL", "Richard III"},
    {"KING RICHARD II", "Richard II"}, {"JOHN OF GAUNT", "Richard II"}, {"HENRY BOLINGBROKE", "Richard II"},
    {"DUKE OF AUMERLE", "Richard II"},
    {"ROMEO", "Romeo and Juliet"}, {"JULIET", "Romeo and Juliet"}, {"BENVOLIO", "Romeo and Juliet"},
    {"MERCUTIO", "Romeo and Juliet"}, {"CAPULET", "Romeo and Juliet"}, {"FRIAR LAURENCE", "Romeo and Juliet"},
    {"KING HENRY VI", "Henry VI, Part 3"}, {"LADY GREY", "Henry VI, Part 3"}, {"KING LEWIS XI", "Henry VI, Part 3"},
    {"LEONTES", "The Winter's Tale"}, {"POLIXENES", "The Winter's Tale"}, {"HERMIONE", "The Winter's Tale"},
    {"PAULINA", "The Winter's Tale"}, {"AUTOLYCUS", "The Winter's Tale"}, {"FLORIZEL", "The Winter's Tale"},
    {"DUKE VINCENTIO", "Measure for Measure"}, {"ANGELO", "Measure for Measure"}, {"ISABELLA", "Measure for Measure"},
    {"LUCIO", "Measure for Measure"},
    {"PETRUCHIO", "The Taming of the Shrew"}, {"KATHARINA", "The Taming of the Shrew"},
    {"BAPTISTA", "The Taming of the Shrew"}, {"TRANIO", "The Taming of the Shrew"},
    {"PROSPERO", "The Tempest"}, {"MIRANDA", "The Tempest"}, {"ARIEL", "The Tempest"}, {"CALIBAN", "The Tempest"},
}};

bool is_speaker_line(std::string_view line) {
  if (line.size() < 2 || line.size() > 40 || line.back() != ':') return false;
  const std::string_view name = line.substr(0, line.size() - 1);
  if (!std::isalpha(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalpha(static_cast<unsigned char>(ch)) || ch == ' ' || ch == '\'' || ch == '-';
  });
}

std::string_view trim_trailing_newlines(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

json conversation(const Speech& prompt, const Speech& reply, std::string_view play) {
  return {{"messages", json::array({{{"role", "system"}, {"content", dialogue_system_prompt(reply.speaker, play)}},
                                    {{"role", "user"}, {"content", prompt.text}},
                                    {{"role", "assistant"}, {"content", reply.text}}})}};
}

Status write_jsonl(const std::vector<json>& lines, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status::error("cannot write " + path);
  for (const json& j : lines) out << j.dump() << "\n";
  out.flush();
  return out ? ok_status() : Status::error("writing " + path + " failed");
}

}  // namespace

std::vector<Speech> parse_speeches(std::string_view script) {
  std::vector<Speech> out;
  bool after_blank = true;  // a speaker line starts the script or follows a blank line
  size_t pos = 0;
  while (pos < script.size()) {
    const size_t nl = std::min(script.find('\n', pos), script.size());
    std::string_view line = script.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (after_blank && is_speaker_line(line)) {
      out.push_back({std::string(line.substr(0, line.size() - 1)), "", pos});
    } else if (!line.empty() && !out.empty()) {
      if (!out.back().text.empty()) out.back().text += '\n';
      out.back().text += trim_trailing_newlines(line);
    }
    after_blank = line.empty();
    pos = nl + 1;
  }
  std::erase_if(out, [](const Speech& s) { return s.text.empty(); });
  return out;
}

std::string_view play_of_speaker(std::string_view speaker) {
  for (const auto& [name, play] : kSignatureSpeakers)
    if (name == speaker) return play;
  return {};
}

std::string dialogue_system_prompt(std::string_view speaker, std::string_view play) {
  std::string s = "You are " + std::string(speaker) + " in ";
  s += play.empty() ? std::string("a play by William Shakespeare") : std::string(play) + ", a play by William Shakespeare";
  return s + ". Answer in character.";
}

DialogueCorpus build_dialogues(std::string_view script, const DialogueOptions& opt) {
  const std::vector<Speech> speeches = parse_speeches(script);
  const auto split = static_cast<size_t>(static_cast<double>(script.size()) * (1.0 - opt.heldout_fraction));
  DialogueCorpus c;
  std::string_view play;
  for (size_t i = 0; i < speeches.size(); ++i) {
    if (std::string_view p = play_of_speaker(speeches[i].speaker); !p.empty()) play = p;
    if (i == 0) continue;
    const Speech &prompt = speeches[i - 1], &reply = speeches[i];
    if (prompt.speaker == reply.speaker) continue;
    if (prompt.text.size() > opt.max_user_chars || reply.text.size() > opt.max_reply_chars) {
      ++c.skipped_long;
      continue;
    }
    (reply.offset >= split ? c.heldout : c.train).push_back(conversation(prompt, reply, play));
  }
  return c;
}

Status write_dialogues(const DialogueCorpus& corpus, const std::string& train_path, const std::string& heldout_path) {
  if (Status st = write_jsonl(corpus.train, train_path); !st.ok()) return st;
  return write_jsonl(corpus.heldout, heldout_path);
}

}  // namespace dseek::train
