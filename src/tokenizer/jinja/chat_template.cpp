// See chat_template.h.
#include "tokenizer/jinja/chat_template.h"

#include <filesystem>

#include "format/gguf.h"
#include "format/json_file.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace dseek {

Result<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  auto body = jinja::parse_template(source);
  if (!body.ok()) return body.status();
  ChatTemplate t;
  t.body_ = std::make_shared<const jinja::Body>(std::move(body).value());
  return t;
}

Result<std::string> ChatTemplate::render(const nlohmann::json& context) const {
  if (!context.is_object()) return Status::error("chat template context must be a JSON object");
  return jinja::render(*body_, jinja::Value::from_json(context));
}

namespace {

std::string token_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

Result<ChatTemplateSource> from_tokenizer_config(const std::string& path) {
  auto j = read_json_file(path);
  if (!j.ok()) return j.status();
  ChatTemplateSource s;
  const auto& c = *j;
  if (!c.is_object() || !c.contains("chat_template")) return Status::error(path + ": no chat_template");
  const auto& t = c["chat_template"];
  if (t.is_string()) {
    s.source = t.get<std::string>();
  } else if (t.is_array()) {  // [{name, template}]: the "default" one, else the first
    for (const auto& e : t)
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
        s.source = e["template"].get<std::string>();
    if (s.source.empty() && !t.empty() && t[0].is_object() && t[0].contains("template") && t[0]["template"].is_string())
      s.source = t[0]["template"].get<std::string>();
  }
  if (s.source.empty()) return Status::error(path + ": chat_template is neither a string nor a list of named templates");
  if (c.contains("bos_token")) s.bos_token = token_text(c["bos_token"]);
  if (c.contains("eos_token")) s.eos_token = token_text(c["eos_token"]);
  return s;
}

}  // namespace

Result<ChatTemplateSource> load_chat_template(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path cfg = fs::path(path) / "tokenizer_config.json";
    if (fs::exists(cfg, ec)) return from_tokenizer_config(cfg.string());
    return Status::error(path + ": no tokenizer_config.json in this directory");
  }
  if (path.size() >= 5 && path.substr(path.size() - 5) == ".json") return from_tokenizer_config(path);
  auto g = GgufFile::open(path);
  if (!g.ok()) return g.status();
  ChatTemplateSource s;
  auto t = g->get_string("tokenizer.chat_template");
  if (!t) return Status::error(path + ": no tokenizer.chat_template in this GGUF");
  s.source = *t;
  if (const auto* toks = g->find("tokenizer.ggml.tokens"); toks && toks->to_array()) {
    const auto& a = *toks->to_array();
    for (const auto& [key, out] : {std::pair{"tokenizer.ggml.bos_token_id", &s.bos_token}, std::pair{"tokenizer.ggml.eos_token_id", &s.eos_token}}) {
      auto id = g->get_int(key);
      if (id && *id >= 0 && static_cast<size_t>(*id) < a.size() && a[static_cast<size_t>(*id)].to_string())
        *out = *a[static_cast<size_t>(*id)].to_string();
    }
  }
  return s;
}

}  // namespace dseek
