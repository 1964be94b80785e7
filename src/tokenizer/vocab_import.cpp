// See vocab_import.h.
#include "tokenizer/vocab_import.h"

#include <filesystem>
#include <map>

#include "format/gguf.h"
#include "format/json_file.h"
#include "tokenizer/default_chat_template.h"

namespace dseek {
namespace {

Result<int64_t> import_gguf(const std::string& path, GgufWriter& w) {
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  const auto* tokens = f->find("tokenizer.ggml.tokens");
  if (!tokens || !tokens->to_array()) return Status::error(path + ": no tokenizer.ggml.tokens: not a vocabulary");
  for (const auto& [k, v] : f->metadata())
    if (k.rfind("tokenizer.", 0) == 0) w.set(k, v);
  if (!f->find("tokenizer.chat_template")) w.set("tokenizer.chat_template", GgufValue::str(std::string(kDefaultChatTemplate)));
  return static_cast<int64_t>(tokens->to_array()->size());
}

std::string token_content(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

// Tokens by id (gaps become [PADn], type 5) and their GGUF token types, from
// model.vocab (normal) and added_tokens (3 control / 4 user-defined).
struct HfVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
};

Result<HfVocab> read_hf_vocab(const std::string& path, const nlohmann::json& j, const nlohmann::json& model) {
  std::map<int64_t, std::string> by_id;
  std::map<int64_t, int32_t> types;
  for (const auto& [tok, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 24))
      return Status::error(path + ": vocab entry '" + tok + "' has a bad id");
    by_id[id.get<int64_t>()] = tok;
    types[id.get<int64_t>()] = 1;
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content"))
        return Status::error(path + ": malformed added_tokens entry");
      const int64_t id = a["id"].get<int64_t>();
      if (id < 0 || id > (1 << 24)) return Status::error(path + ": added token id out of range");
      by_id[id] = a["content"].get<std::string>();
      types[id] = a.value("special", false) ? 3 : 4;
    }
  }
  const int64_t n = by_id.empty() ? 0 : by_id.rbegin()->first + 1;
  HfVocab v{std::vector<std::string>(static_cast<size_t>(n)), std::vector<int32_t>(static_cast<size_t>(n), 5)};
  for (int64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    v.tokens[static_cast<size_t>(i)] = it != by_id.end() ? it->second : "[PAD" + std::to_string(i) + "]";
    if (it != by_id.end()) v.types[static_cast<size_t>(i)] = types[i];
  }
  return v;
}

// model.merges as "left right" strings (either spelling tokenizer.json uses).
Result<std::vector<std::string>> read_hf_merges(const std::string& path, const nlohmann::json& model) {
  std::vector<std::string> merges;
  if (model.contains("merges") && model["merges"].is_array()) {
    for (const auto& m : model["merges"]) {
      if (m.is_string()) merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      else return Status::error(path + ": malformed merges entry");
    }
  }
  return merges;
}

// tokenizer_config.json beside tokenizer.json, when there is one: BOS/EOS ids,
// add_bos_token and the chat template (else the default one).
Status write_hf_config(const std::string& path, const std::vector<std::string>& tokens, GgufWriter& w) {
  std::string chat_template(kDefaultChatTemplate);
  const auto cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(cfg_path, ec)) {
    auto cfg = read_json_file(cfg_path.string());
    if (!cfg.ok()) return cfg.status();
    for (const auto& [key, gguf_key] : {std::pair{"bos_token", "tokenizer.ggml.bos_token_id"},
                                        std::pair{"eos_token", "tokenizer.ggml.eos_token_id"}}) {
      if (!(*cfg).contains(key)) continue;
      const std::string text = token_content((*cfg)[key]);
      for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] == text) w.set(gguf_key, GgufValue::u32(static_cast<uint32_t>(i)));
    }
    if ((*cfg).contains("add_bos_token") && (*cfg)["add_bos_token"].is_boolean())
      w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean((*cfg)["add_bos_token"].get<bool>()));
    if ((*cfg).contains("chat_template") && (*cfg)["chat_template"].is_string())
      chat_template = (*cfg)["chat_template"].get<std::string>();
  }
  w.set("tokenizer.chat_template", GgufValue::str(chat_template));
  return ok_status();
}

Result<int64_t> import_hf(const std::string& path, const std::string& pre, GgufWriter& w) {
  auto j = read_json_file(path);
  if (!j.ok()) return j.status();
  const auto& model = (*j).contains("model") ? (*j)["model"] : nlohmann::json();
  if (!model.is_object() || model.value("type", "") != "BPE" || !model.contains("vocab") || !model["vocab"].is_object())
    return Status::error(path + ": only BPE tokenizer.json files can be imported (model.type \"BPE\" with a vocab)");
  auto vocab = read_hf_vocab(path, *j, model);
  if (!vocab.ok()) return vocab.status();
  auto merges = read_hf_merges(path, model);
  if (!merges.ok()) return merges.status();
  w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::str(pre));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(vocab->tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array(vocab->types));
  w.set("tokenizer.ggml.merges", GgufValue::string_array(*merges));
  if (Status st = write_hf_config(path, vocab->tokens, w); !st.ok()) return st;
  return static_cast<int64_t>(vocab->tokens.size());
}

}  // namespace

Result<int64_t> import_vocab(const std::string& path, const std::string& pre, GgufWriter& w) {
  if (path.size() >= 5 && path.substr(path.size() - 5) == ".json") return import_hf(path, pre, w);
  return import_gguf(path, w);
}

}  // namespace dseek
