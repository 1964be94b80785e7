// See sft_data.h.
#include "train/sft_data.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string_view>

namespace dseek::train {
namespace {

using nlohmann::json;

Result<std::string> render(const ChatFormat& format, const json& messages, bool generation_prompt) {
  json ctx = {{"messages", messages}, {"add_generation_prompt", generation_prompt}};
  auto r = format.render(std::move(ctx));
  if (!r.ok()) return Status::error("the chat template failed: " + r.message());
  return r;
}

Status check_messages(const json& messages) {
  if (!messages.is_array() || messages.empty()) return Status::error("\"messages\" must be a non-empty array");
  bool has_assistant = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string at = "message " + std::to_string(i + 1);
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      return Status::error(at + " needs a string \"role\"");
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant" && role != "tool")
      return Status::error(at + " has the unknown role \"" + role + "\" (system, user, assistant or tool)");
    if (!m.contains("content") || !m["content"].is_string()) return Status::error(at + " needs a string \"content\"");
    has_assistant |= role == "assistant";
  }
  if (!has_assistant) return Status::error("the conversation has no assistant message to learn from");
  return ok_status();
}

}  // namespace

Result<SftDocument> render_conversation(const ChatFormat& format, const Tokenizer& tok, const json& messages) {
  if (Status st = check_messages(messages); !st.ok()) return st;
  auto full = render(format, messages, false);
  if (!full.ok()) return full.status();
  // Character spans of the assistant turns in the full rendering.
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i]["role"] != "assistant") continue;
    auto before = render(format, json(std::vector<json>(messages.begin(), messages.begin() + static_cast<long>(i))), true);
    auto after = render(format, json(std::vector<json>(messages.begin(), messages.begin() + static_cast<long>(i) + 1)), false);
    if (!before.ok()) return before.status();
    if (!after.ok()) return after.status();
    if (!after->starts_with(*before) || !full->starts_with(*after) || after->size() == before->size())
      return Status::error("the chat template does not render conversations as prefixes of each other; "
                           "assistant turns cannot be located for the loss mask");
    spans.emplace_back(before->size(), after->size());
  }
  // Tokenized piece by piece so that token boundaries fall on turn boundaries.
  SftDocument doc;
  size_t pos = 0;
  auto append = [&](size_t end, uint8_t assistant) {
    if (end <= pos) return;
    const auto ids = tok.encode(std::string_view(*full).substr(pos, end - pos), EncodeOptions{true, false});
    doc.ids.insert(doc.ids.end(), ids.begin(), ids.end());
    doc.assistant.insert(doc.assistant.end(), ids.size(), assistant);
    pos = end;
  };
  for (const auto& [b, e] : spans) {
    append(b, 0);
    append(e, 1);
  }
  append(full->size(), 0);
  return doc;
}

Result<std::vector<SftDocument>> read_sft_file(const std::string& path, const ChatFormat& format, const Tokenizer& tok) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error("cannot open " + path);
  std::vector<SftDocument> docs;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    const std::string where = path + ":" + std::to_string(n) + ": ";
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) return Status::error(where + "not valid JSON");
    if (!j.is_object() || !j.contains("messages")) return Status::error(where + "expected an object with \"messages\"");
    auto doc = render_conversation(format, tok, j["messages"]);
    if (!doc.ok()) return Status::error(where + doc.message());
    docs.push_back(std::move(doc).value());
  }
  if (docs.empty()) return Status::error(path + ": no conversations");
  return docs;
}

std::vector<SftDocument> text_windows(const std::vector<int32_t>& ids, int64_t seq_len) {
  std::vector<SftDocument> docs;
  const size_t window = static_cast<size_t>(std::max<int64_t>(seq_len, 2));
  for (size_t start = 0; start + 1 < ids.size(); start += window) {
    const size_t end = std::min(ids.size(), start + window);
    SftDocument& d = docs.emplace_back();
    d.ids.assign(ids.begin() + static_cast<long>(start), ids.begin() + static_cast<long>(end));
    d.assistant.assign(d.ids.size(), 1);
  }
  return docs;
}

Result<std::vector<SftDocument>> read_text_documents(const std::string& path, const Tokenizer& tok, int64_t seq_len) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error("cannot open " + path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Special-token text stays plain text: a corpus is data, not markup.
  std::vector<SftDocument> docs = text_windows(tok.encode(text, EncodeOptions{false, false}), seq_len);
  if (docs.empty()) return Status::error(path + ": fewer than two tokens of text");
  return docs;
}

size_t pack_documents(const std::vector<SftDocument>& docs, size_t first, int64_t rows, int64_t seq_len,
                      int32_t pad_id, PackedBatch& out) {
  out = PackedBatch{};
  out.rows = rows;
  size_t d = first % docs.size();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t used = 0;
    const int64_t row_start = r * seq_len;
    bool placed = false;
    while (true) {
      const SftDocument& doc = docs[d];
      const int64_t len = std::min<int64_t>(static_cast<int64_t>(doc.ids.size()), seq_len);
      if (used + len > seq_len && placed) break;  // the next document starts the next row
      out.segment_starts.push_back(row_start + used);
      for (int64_t i = 0; i < len; ++i) {
        out.tokens.push_back(doc.ids[static_cast<size_t>(i)]);
        const bool target = i + 1 < len && doc.assistant[static_cast<size_t>(i + 1)];
        out.targets.push_back(target ? doc.ids[static_cast<size_t>(i + 1)] : -1);
      }
      used += len;
      placed = true;
      d = (d + 1) % docs.size();
      if (used == seq_len) break;
    }
    if (used < seq_len) {  // padding: a segment of its own, no targets
      out.segment_starts.push_back(row_start + used);
      out.tokens.insert(out.tokens.end(), static_cast<size_t>(seq_len - used), pad_id);
      out.targets.insert(out.targets.end(), static_cast<size_t>(seq_len - used), -1);
    }
  }
  out.segment_starts.push_back(rows * seq_len);
  return d;
}

PackedBatch single_document(const SftDocument& doc, int64_t seq_len) {
  PackedBatch b;
  const int64_t len = std::min<int64_t>(static_cast<int64_t>(doc.ids.size()), seq_len);
  b.rows = 1;
  b.tokens.assign(doc.ids.begin(), doc.ids.begin() + len);
  for (int64_t i = 0; i < len; ++i)
    b.targets.push_back(i + 1 < len && doc.assistant[static_cast<size_t>(i + 1)] ? doc.ids[static_cast<size_t>(i + 1)] : -1);
  b.segment_starts = {0, len};
  return b;
}

}  // namespace dseek::train
