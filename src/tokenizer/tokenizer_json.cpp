// Tokenizer::from_hf: HF tokenizer.json (model BPE with vocab + merges in either
// the "a b" or the ["a","b"] form, added_tokens, normalizer, pre_tokenizer) and
// tokenizer_config.json (bos/eos tokens, add_bos_token). Only what byte-level
// BPE models use is accepted; anything else is an error naming the field.
#include <algorithm>
#include <filesystem>

#include "format/json_file.h"
#include "tokenizer/tokenizer.h"

namespace dseek {
namespace {

using json = nlohmann::json;

std::string escape_literal(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-/").find(c) != std::string_view::npos) r += '\\';
    r += c;
  }
  return r;
}

Result<SplitBehavior> parse_behavior(const json& v) {
  const std::string b = v.is_string() ? v.get<std::string>() : "";
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  return Status::error("unsupported Split behavior '" + v.dump() + "'");
}

// One pre_tokenizer node; appends its rules. Sets `byte_level` when it sees ByteLevel.
Status add_pretokenizer(const json& node, PreTokenizerSpec& spec, bool& byte_level) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string())
    return Status::error("pre_tokenizer node without a type: " + node.dump().substr(0, 120));
  const std::string type = node["type"].get<std::string>();
  if (type == "Sequence") {
    if (!node.contains("pretokenizers") || !node["pretokenizers"].is_array())
      return Status::error("pre_tokenizer Sequence without a pretokenizers array");
    for (const auto& child : node["pretokenizers"])
      if (Status s = add_pretokenizer(child, spec, byte_level); !s.ok()) return s;
    return ok_status();
  }
  if (type == "Split") {
    const json& pat = node.value("pattern", json());
    SplitRule rule;
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) rule.regex = pat["Regex"].get<std::string>();
    else if (pat.is_object() && pat.contains("String") && pat["String"].is_string())
      rule.regex = escape_literal(pat["String"].get<std::string>());
    else return Status::error("pre_tokenizer Split needs pattern.Regex or pattern.String");
    auto b = parse_behavior(node.value("behavior", json()));
    if (!b.ok()) return b.status();
    rule.behavior = *b;
    rule.invert = node.value("invert", false);
    spec.rules.push_back(std::move(rule));
    return ok_status();
  }
  if (type == "ByteLevel") {
    byte_level = true;
    spec.add_prefix_space = node.value("add_prefix_space", false);
    if (node.value("use_regex", true))
      spec.rules.push_back({std::string(gpt2_split_regex()), SplitBehavior::kIsolated, false});
    return ok_status();
  }
  if (type == "Digits") {
    spec.rules.push_back({node.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+", SplitBehavior::kIsolated});
    return ok_status();
  }
  return Status::error("unsupported pre_tokenizer type '" + type + "'");
}

Status check_normalizer(const json& n) {
  if (n.is_null()) return ok_status();
  const std::string type = n.value("type", "");
  if (type == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
    for (const auto& c : n["normalizers"])
      if (Status s = check_normalizer(c); !s.ok()) return s;
    return ok_status();
  }
  return Status::error("unsupported normalizer '" + (type.empty() ? n.dump().substr(0, 80) : type) + "'");
}

Result<std::vector<std::pair<std::string, std::string>>> parse_merges(const json& model) {
  std::vector<std::pair<std::string, std::string>> merges;
  if (!model.contains("merges")) return merges;
  if (!model["merges"].is_array()) return Status::error("model.merges is not an array");
  merges.reserve(model["merges"].size());
  for (const auto& m : model["merges"]) {
    if (m.is_string()) {
      const auto& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) return Status::error("merge '" + s + "' is not two tokens separated by a space");
      merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return Status::error("malformed merges entry " + m.dump().substr(0, 80));
    }
  }
  return merges;
}

Status read_vocab(const json& j, TokenizerSpec& spec) {
  const json& model = j.value("model", json());
  if (!model.is_object()) return Status::error("no model object");
  const std::string type = model.value("type", "BPE");
  if (type != "BPE") return Status::error("model.type '" + type + "' is not supported (only BPE)");
  if (model.value("byte_fallback", false)) return Status::error("BPE with byte_fallback is not supported");
  if (!model.value("continuing_subword_prefix", json()).is_null() || !model.value("end_of_word_suffix", json()).is_null())
    return Status::error("BPE continuing_subword_prefix / end_of_word_suffix are not supported");
  if (!model.contains("vocab") || !model["vocab"].is_object()) return Status::error("model.vocab is not an object");
  std::vector<std::pair<int64_t, std::string>> entries;
  for (const auto& [tok, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t{1} << 24))
      return Status::error("vocab entry '" + tok + "' has a bad id");
    entries.emplace_back(id.get<int64_t>(), tok);
  }
  if (j.contains("added_tokens")) {
    if (!j["added_tokens"].is_array()) return Status::error("added_tokens is not an array");
    for (const auto& a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string() || a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() >= (int64_t{1} << 24))
        return Status::error("malformed added_tokens entry " + a.dump().substr(0, 120));
      AddedToken t{.id = a["id"].get<int32_t>(), .content = a["content"].get<std::string>(),
                   .special = a.value("special", false), .lstrip = a.value("lstrip", false),
                   .rstrip = a.value("rstrip", false), .single_word = a.value("single_word", false),
                   .normalized = a.value("normalized", false)};
      entries.emplace_back(t.id, t.content);
      spec.added.push_back(std::move(t));
    }
  }
  int64_t n = 0;
  for (const auto& [id, tok] : entries) n = std::max(n, id + 1);
  spec.tokens.assign(static_cast<size_t>(n), std::string());
  spec.types.assign(static_cast<size_t>(n), static_cast<int32_t>(TokenType::kUnused));
  for (const auto& [id, tok] : entries) {
    spec.tokens[static_cast<size_t>(id)] = tok;
    spec.types[static_cast<size_t>(id)] = static_cast<int32_t>(TokenType::kNormal);
  }
  // Ids nobody names get a unique placeholder so they never match text.
  for (int64_t i = 0; i < n; ++i)
    if (spec.types[static_cast<size_t>(i)] == static_cast<int32_t>(TokenType::kUnused))
      spec.tokens[static_cast<size_t>(i)] = "<unused_id_" + std::to_string(i) + ">";
  spec.ignore_merges = model.value("ignore_merges", false);
  auto merges = parse_merges(model);
  if (!merges.ok()) return merges.status();
  spec.merges = std::move(*merges);
  return ok_status();
}

// bos_token / eos_token may be a string or an AddedToken object.
std::string token_content(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

}  // namespace

Result<Tokenizer> Tokenizer::from_hf(const std::string& path) {
  // nlohmann's value() throws on a type mismatch (e.g. "add_bos_token": null); no
  // exception leaves this API, so those become errors too.
  try {
    return from_hf_json(path);
  } catch (const nlohmann::json::exception& e) {
    return Status::error(path + ": unexpected JSON structure: " + e.what());
  }
}

Result<Tokenizer> Tokenizer::from_hf_json(const std::string& path) {
  auto j = read_json_file(path);
  if (!j.ok()) return j.status();
  auto fail = [&](const Status& s) { return Status::error(path + ": " + s.message()); };
  if (!j->is_object()) return fail(Status::error("not a JSON object"));
  TokenizerSpec spec;
  spec.source = path;
  spec.kind = TokenizerKind::kBpe;
  spec.add_space_prefix = false;
  if (Status s = read_vocab(*j, spec); !s.ok()) return fail(s);
  if (Status s = check_normalizer(j->value("normalizer", json())); !s.ok()) return fail(s);
  bool byte_level = false;
  const json& pre = j->value("pre_tokenizer", json());
  if (!pre.is_null())
    if (Status s = add_pretokenizer(pre, spec.pre, byte_level); !s.ok()) return fail(s);
  if (!byte_level) return fail(Status::error("pre_tokenizer has no ByteLevel step: not a byte-level BPE tokenizer"));
  // Name the config after the table it equals, so `inspect` can say "deepseek-v3".
  spec.pre.name = "custom";
  for (const auto& name : pretokenizer_names())
    if (auto t = pretokenizer_spec(name); t.ok() && t->rules == spec.pre.rules && !spec.pre.add_prefix_space) {
      spec.pre.name = name;
      break;
    }
  const auto cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(cfg_path, ec)) {
    auto cfg = read_json_file(cfg_path.string());
    if (!cfg.ok()) return cfg.status();
    auto lookup = [&](const char* key) -> int32_t {
      const std::string c = token_content(cfg->value(key, json()));
      for (const auto& a : spec.added)
        if (a.content == c) return a.id;
      for (size_t i = 0; i < spec.tokens.size(); ++i)
        if (!c.empty() && spec.tokens[i] == c) return static_cast<int32_t>(i);
      return -1;
    };
    spec.bos_id = lookup("bos_token");
    spec.eos_id = lookup("eos_token");
    spec.add_bos = cfg->value("add_bos_token", false) && spec.bos_id >= 0;
  }
  return from_spec(std::move(spec));
}

}  // namespace dseek
