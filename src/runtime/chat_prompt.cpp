// See chat_prompt.h.
#include "runtime/chat_prompt.h"

#include <algorithm>
#include <string_view>

#include <filesystem>

#include "format/json_file.h"
#include "core/random_id.h"
#include "format/gguf.h"
#include "model/arch.h"
#include "runtime/dsml_encoding.h"
#include "tokenizer/default_chat_template.h"

namespace dseek {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

ordered_json template_context(const ChatPromptInput& in, const json& messages) {
  ordered_json tctx = ordered_json::object();
  for (auto& [k, v] : in.template_kwargs.items()) tctx[k] = v;
  if (in.template_kwargs.contains("thinking") && !in.template_kwargs.contains("enable_thinking"))
    tctx["enable_thinking"] = in.template_kwargs["thinking"];
  tctx["messages"] = messages;
  tctx["add_generation_prompt"] = true;
  if (!in.tools.is_null()) tctx["tools"] = in.tools;
  return tctx;
}

bool ends_in_open_think(const std::string& r) {
  const std::string trimmed = r.substr(0, r.find_last_not_of(" \n") + 1);
  return trimmed.size() >= 7 && trimmed.compare(trimmed.size() - 7, 7, "<think>") == 0;
}

Result<std::string> render_messages(const ChatFormat& format, ordered_json tctx) {
  auto r = format.render(std::move(tctx));
  if (!r.ok()) return Status::error("the chat template failed on these messages: " + r.message());
  return r;
}

// Untrusted text goes in as unique sentinels, so the rendered template can be
// split into markup (control tokens allowed) and text (never control tokens).
struct HiddenText {
  json messages;                   // with each non-assistant content replaced by tag + index + \x1F
  std::vector<std::string> texts;  // the contents replaced
  std::string tag;
  std::string sentinel(size_t i) const { return tag + std::to_string(i) + "\x1F"; }
};

HiddenText hide_message_text(const json& messages) {
  HiddenText h{messages, {}, "\x1E" "dseek-" + random_hex(12) + "-"};
  for (auto& m : h.messages) {
    const std::string role = m["role"].get<std::string>();
    if (role == "assistant") continue;  // templates edit assistant text (R1 drops its reasoning); it is the model's own
    h.texts.push_back(m["content"].get<std::string>());
    m["content"] = h.sentinel(h.texts.size() - 1);
  }
  return h;
}

struct Piece {
  size_t at, len;
  size_t text;
};

// Where each sentinel landed, in order; empty when one is missing or repeated.
std::vector<Piece> find_pieces(const std::string& r, const HiddenText& h) {
  std::vector<Piece> pieces;
  for (size_t i = 0; i < h.texts.size(); ++i) {
    const std::string s = h.sentinel(i);
    const size_t at = r.find(s);
    if (at == std::string::npos || r.find(s, at + 1) != std::string::npos) return {};
    pieces.push_back({at, s.size(), i});
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.at < b.at; });
  return pieces;
}

std::vector<int32_t> encode_pieces(const Tokenizer& tok, const std::string& r, const std::vector<Piece>& pieces,
                                   const std::vector<std::string>& texts) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  auto append = [&](std::string_view s, bool special) {
    if (s.empty()) return;
    const auto part = tok.encode(s, EncodeOptions{special, false});
    ids.insert(ids.end(), part.begin(), part.end());
  };
  for (const Piece& pc : pieces) {
    append(std::string_view(r).substr(pos, pc.at - pos), true);
    append(texts[pc.text], false);
    pos = pc.at + pc.len;
  }
  append(std::string_view(r).substr(pos), true);
  return ids;
}

// The template rewrote a message (e.g. changed its case): render the real
// text, accepted only when it spells no control token.
Result<std::vector<int32_t>> encode_rewritten(const ChatFormat& format, const Tokenizer& tok, const ChatPromptInput& in,
                                             const std::vector<std::string>& texts) {
  for (const auto& t : texts)
    for (const auto& added : tok.added_tokens())
      if (!added.content.empty() && t.find(added.content) != std::string::npos)
        return Status::error("a message contains the control token text '" + added.content +
                             "', which this model's chat template cannot keep as plain text");
  auto again = render_messages(format, template_context(in, in.messages));
  if (!again.ok()) return again.status();
  return tok.encode(*again, EncodeOptions{true, false});
}

Result<ChatPrompt> build_plain_text(const ChatFormat& format, const Tokenizer& tok, const ChatPromptInput& in) {
  const HiddenText hidden = hide_message_text(in.messages);
  auto rendered = render_messages(format, template_context(in, hidden.messages));
  if (!rendered.ok()) return rendered.status();
  ChatPrompt out;
  out.starts_in_reasoning = ends_in_open_think(*rendered);
  const std::vector<Piece> pieces = find_pieces(*rendered, hidden);
  if (pieces.size() != hidden.texts.size() && !hidden.texts.empty()) {
    auto ids = encode_rewritten(format, tok, in, hidden.texts);
    if (!ids.ok()) return ids.status();
    out.ids = std::move(ids).value();
  } else {
    out.ids = encode_pieces(tok, *rendered, pieces, hidden.texts);
  }
  return out;
}

}  // namespace

Result<ChatFormat> ChatFormat::parse(const ChatTemplateSource& src, const Tokenizer& tok) {
  auto t = ChatTemplate::parse(src.source);
  if (!t.ok()) return t.status();
  auto text_of = [&](int32_t id) { return id >= 0 ? std::string(tok.token_text(id)) : std::string(); };
  return ChatFormat{std::move(t).value(), src.bos_token.empty() ? text_of(tok.bos_id()) : src.bos_token,
                    src.eos_token.empty() ? text_of(tok.eos_id()) : src.eos_token};
}

ChatFormat ChatFormat::dsml(const Tokenizer& tok, ChatEncoding encoding) {
  auto text_of = [&](int32_t id) { return id >= 0 ? std::string(tok.token_text(id)) : std::string(); };
  return ChatFormat{ChatTemplate{}, text_of(tok.bos_id()), text_of(tok.eos_id()), encoding};
}

Result<std::string> ChatFormat::render(ordered_json context) const {
  context["bos_token"] = bos_text;
  context["eos_token"] = eos_text;
  if (encoding == ChatEncoding::kDsml) return render_dsml_chat(context);
  if (encoding == ChatEncoding::kDsmlV4) return render_dsml_v4_chat(context);
  return tmpl.render(json(context));
}

ChatEncoding default_chat_encoding(const Result<ChatTemplateSource>& src, const std::string& model_path,
                                   std::string_view arch) {
  if (src.ok() && src->source != kDefaultChatTemplate) return ChatEncoding::kJinja;  // the model's own template wins
  const std::string name = arch.empty() ? model_architecture_name(model_path) : std::string(arch);
  if (name == "deepseek-v4") return ChatEncoding::kDsmlV4;
  // The registry names a V3.2 model "deepseek-v32" whatever its dialect: an HF deepseek_v32 config, llama.cpp's
  // deepseek32 GGUF, or dseek's older deepseek2 files that carry the indexer keys.
  return name == "deepseek-v32" ? ChatEncoding::kDsml : ChatEncoding::kJinja;
}

bool uses_dsml_by_default(const Result<ChatTemplateSource>& src, const std::string& model_path, std::string_view arch) {
  return default_chat_encoding(src, model_path, arch) != ChatEncoding::kJinja;
}

ChatEncoding named_chat_encoding(std::string_view choice) {
  return choice == "dsml" ? ChatEncoding::kDsml : choice == "dsml-v4" ? ChatEncoding::kDsmlV4 : ChatEncoding::kJinja;
}

bool valid_chat_format_name(std::string_view name) {
  return name == "auto" || name == "template" || name == "dsml" || name == "dsml-v4";
}

std::string model_architecture_name(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  Result<std::unique_ptr<Architecture>> arch = Status::error("");
  if (fs::is_directory(path, ec) || path.ends_with(".json")) {
    const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
    auto cfg = read_json_file((dir / "config.json").string());
    if (!cfg.ok()) return {};
    arch = architecture_from_hf_config(*cfg);
  } else {
    auto g = GgufFile::open(path);
    if (!g.ok()) return {};
    arch = architecture_from_gguf(*g);
  }
  return arch.ok() ? std::string((*arch)->name()) : std::string();
}

Result<ChatFormat> load_chat_format(const std::string& model_path, const Tokenizer& tok, std::string_view choice,
                                    std::string_view arch) {
  if (named_chat_encoding(choice) != ChatEncoding::kJinja) return ChatFormat::dsml(tok, named_chat_encoding(choice));
  auto src = load_chat_template(model_path);
  if (choice == "auto") {
    const ChatEncoding e = default_chat_encoding(src, model_path, arch);
    if (e != ChatEncoding::kJinja) return ChatFormat::dsml(tok, e);
  }
  if (!src.ok()) return src.status();
  return ChatFormat::parse(*src, tok);
}

Result<ChatPrompt> build_chat_prompt(const ChatFormat& format, const Tokenizer& tok, const ChatPromptInput& in) {
  if (in.text == MessageText::kPlainText) return build_plain_text(format, tok, in);
  auto rendered = render_messages(format, template_context(in, in.messages));
  if (!rendered.ok()) return rendered.status();
  return ChatPrompt{tok.encode(*rendered, EncodeOptions{true, false}), ends_in_open_think(*rendered)};
}

}  // namespace dseek
