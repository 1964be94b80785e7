// Schema -> Grammar: one recursive pass over the schema, $refs resolved
// through a memo table (a placeholder node is added first so that recursive
// definitions close the loop).
#include "runtime/json_schema.h"

#include <map>
#include <set>

namespace dseek {
namespace {

using nlohmann::json;

const std::set<std::string> kAnnotations = {"title", "description", "default", "examples", "$schema",
                                            "$id",   "$comment",    "format",  "$defs",    "definitions"};
const std::set<std::string> kValidation = {"type",  "properties", "required", "additionalProperties",
                                           "enum",  "const",      "items",    "minItems",
                                           "maxItems", "minLength", "maxLength", "anyOf", "allOf", "$ref"};
constexpr int kMaxSchemaDepth = 64;
constexpr size_t kMaxProperties = 64;

Status refuse(const std::string& where, const std::string& why) {
  return Status::error("schema at '" + where + "': " + why);
}

Result<uint8_t> parse_types(const json& t, const std::string& where) {
  static const std::map<std::string, uint8_t> kNames = {
      {"null", kTypeNull},     {"boolean", kTypeBoolean}, {"integer", kTypeInteger}, {"number", kTypeNumber | kTypeInteger},
      {"string", kTypeString}, {"array", kTypeArray},     {"object", kTypeObject}};
  const json list = t.is_array() ? t : json::array({t});
  uint8_t types = 0;
  for (const json& name : list) {
    auto it = name.is_string() ? kNames.find(name.get<std::string>()) : kNames.end();
    if (it == kNames.end()) return refuse(where, "'type' " + name.dump() + " is not a JSON Schema type");
    types |= it->second;
  }
  if (types == 0) return refuse(where, "'type' is an empty list");
  return types;
}

uint8_t type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return kTypeNull;
    case json::value_t::boolean: return kTypeBoolean;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return kTypeInteger;
    case json::value_t::number_float: return kTypeNumber;
    case json::value_t::string: return kTypeString;
    case json::value_t::array: return kTypeArray;
    default: return kTypeObject;
  }
}

Result<int32_t> count_value(const json& s, const char* key, const std::string& where, int32_t fallback) {
  auto it = s.find(key);
  if (it == s.end()) return fallback;
  if (!it->is_number_unsigned() || it->get<uint64_t>() > (1u << 30)) return refuse(where, std::string("'") + key + "' must be a non-negative integer");
  return static_cast<int32_t>(it->get<uint64_t>());
}

bool plain_key(const std::string& k) {
  for (unsigned char c : k)
    if (c == '"' || c == '\\' || c < 0x20) return false;
  return true;
}

class Compiler {
 public:
  Compiler(Grammar& g, const json& root, const SchemaOptions& opt) : g_(g), root_(root), opt_(opt) {}

  Result<int32_t> compile(const json& s, const std::string& where, int depth) {
    if (depth > kMaxSchemaDepth) return refuse(where, "nests deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    if (s.is_boolean()) {
      if (s.get<bool>()) return g_.any_value();
      return refuse(where, "the schema 'false' accepts nothing");
    }
    if (!s.is_object()) return refuse(where, "a schema must be an object or a boolean");
    size_t validation = 0;
    for (const auto& [k, v] : s.items()) {
      if (kValidation.count(k)) ++validation;
      else if (!kAnnotations.count(k)) return refuse(where, "keyword '" + k + "' cannot be enforced by this server");
    }
    if (s.contains("$ref")) {
      if (validation > 1) return refuse(where, "'$ref' with other validation keywords cannot be enforced");
      return resolve(s["$ref"], where, depth);
    }
    if (s.contains("allOf")) {
      const json& all = s["allOf"];
      if (!all.is_array() || all.size() != 1 || validation > 1) return refuse(where, "'allOf' is supported with exactly one schema and nothing beside it");
      return compile(all[0], where + "/allOf/0", depth + 1);
    }
    if (s.contains("anyOf")) return any_of(s, where, depth, validation);
    if (s.contains("enum") || s.contains("const")) return enumeration(s, where);
    return value(s, where, depth);
  }

 private:
  Result<int32_t> resolve(const json& ref, const std::string& where, int depth) {
    if (!ref.is_string()) return refuse(where, "'$ref' must be a string");
    const std::string r = ref.get<std::string>();
    if (auto it = refs_.find(r); it != refs_.end()) return it->second;
    const json* target = nullptr;
    if (r == "#") {
      target = &root_;
    } else {
      for (const char* base : {"#/$defs/", "#/definitions/"}) {
        const std::string b = base;
        if (r.rfind(b, 0) != 0) continue;
        const std::string name = r.substr(b.size());
        auto defs = root_.find(b.substr(2, b.size() - 3));
        if (name.find('/') == std::string::npos && defs != root_.end() && defs->is_object() && defs->contains(name))
          target = &(*defs)[name];
      }
    }
    if (!target) return refuse(where, "'$ref' " + r + " does not name '#', '#/$defs/NAME' or '#/definitions/NAME' of this schema");
    const int32_t id = g_.add(GrammarNode{});
    refs_[r] = id;
    auto compiled = compile(*target, r, depth + 1);
    if (!compiled.ok()) return compiled.status();
    if (*compiled == id) return refuse(where, "'$ref' " + r + " refers only to itself");
    g_.nodes[static_cast<size_t>(id)] = g_.nodes[static_cast<size_t>(*compiled)];
    return id;
  }

  Result<int32_t> any_of(const json& s, const std::string& where, int depth, size_t validation) {
    const json& alts = s["anyOf"];
    if (!alts.is_array() || alts.empty()) return refuse(where, "'anyOf' must be a non-empty array");
    if (validation > 1) return refuse(where, "'anyOf' with other validation keywords beside it cannot be enforced");
    std::vector<int32_t> kids;
    for (size_t i = 0; i < alts.size(); ++i) {
      auto k = compile(alts[i], where + "/anyOf/" + std::to_string(i), depth + 1);
      if (!k.ok()) return k.status();
      kids.push_back(*k);
    }
    return g_.any_of(std::move(kids));
  }

  // enum / const: the values' compact JSON text, byte for byte.
  Result<int32_t> enumeration(const json& s, const std::string& where) {
    for (const auto& [k, v] : s.items())
      if (kValidation.count(k) && k != "enum" && k != "const" && k != "type")
        return refuse(where, "'" + k + "' beside 'enum'/'const' cannot be enforced");
    uint8_t types = kTypeAny;
    if (s.contains("type")) {
      auto t = parse_types(s["type"], where);
      if (!t.ok()) return t.status();
      types = *t;
    }
    json values = json::array();
    if (s.contains("const")) values.push_back(s["const"]);
    if (s.contains("enum")) {
      if (!s["enum"].is_array()) return refuse(where, "'enum' must be an array");
      for (const json& v : s["enum"]) values.push_back(v);
    }
    std::vector<int32_t> kids;
    for (const json& v : values) {
      const uint8_t t = type_of(v);
      const bool fits = (types & t) || (t == kTypeNumber && (types & kTypeNumber)) ||
                        (t == kTypeInteger && (types & (kTypeNumber | kTypeInteger)));
      if (fits && (!s.contains("const") || v == s["const"])) kids.push_back(g_.literal(v.dump(), false));
    }
    if (kids.empty()) return refuse(where, "no value of 'enum'/'const' fits the schema");
    return kids.size() == 1 ? kids[0] : g_.any_of(std::move(kids));
  }

  Result<int32_t> value(const json& s, const std::string& where, int depth) {
    GrammarNode n;
    if (s.contains("type")) {
      auto t = parse_types(s["type"], where);
      if (!t.ok()) return t.status();
      n.types = *t;
    }
    if (Status st = object_part(s, where, depth, n); !st.ok()) return st;
    if (s.contains("items")) {
      auto items = compile(s["items"], where + "/items", depth + 1);
      if (!items.ok()) return items.status();
      n.items = *items;
    } else {
      n.items = g_.any_value();
    }
    auto mi = count_value(s, "minItems", where, 0), ma = count_value(s, "maxItems", where, -1);
    auto ml = count_value(s, "minLength", where, 0), xl = count_value(s, "maxLength", where, -1);
    for (auto* r : {&mi, &ma, &ml, &xl})
      if (!r->ok()) return r->status();
    n.min_items = *mi, n.max_items = *ma, n.min_length = *ml, n.max_length = *xl;
    if ((n.max_items >= 0 && n.max_items < n.min_items) || (n.max_length >= 0 && n.max_length < n.min_length))
      return refuse(where, "a maximum is below its minimum");
    return g_.add(std::move(n));
  }

  Status object_part(const json& s, const std::string& where, int depth, GrammarNode& n) {
    if (s.contains("properties")) {
      const json& props = s["properties"];
      if (!props.is_object()) return refuse(where, "'properties' must be an object");
      if (props.size() > kMaxProperties) return refuse(where, "more than 64 properties in one object");
      for (const auto& [name, sub] : props.items()) {
        if (!plain_key(name)) return refuse(where, "property name " + json(name).dump() + " needs escaping");
        auto k = compile(sub, where + "/properties/" + name, depth + 1);
        if (!k.ok()) return k.status();
        n.properties.push_back({name, *k});
      }
    }
    if (s.contains("required")) {
      if (!s["required"].is_array()) return refuse(where, "'required' must be an array");
      for (const json& r : s["required"]) {
        bool found = false;
        for (size_t i = 0; i < n.properties.size(); ++i)
          if (r.is_string() && n.properties[i].name == r.get<std::string>()) n.required |= uint64_t{1} << i, found = true;
        if (!found) return refuse(where, "'required' names " + r.dump() + ", which is not in 'properties'");
      }
    }
    const json add = s.value("additionalProperties", json(!opt_.strict));
    if (add.is_boolean()) {
      n.additional = add.get<bool>() ? g_.any_value() : -1;
    } else {
      auto a = compile(add, where + "/additionalProperties", depth + 1);
      if (!a.ok()) return a.status();
      n.additional = *a;
    }
    return Status();
  }

  Grammar& g_;
  const json& root_;
  SchemaOptions opt_;
  std::map<std::string, int32_t> refs_;
};

}  // namespace

int32_t Grammar::add(GrammarNode n) {
  nodes.push_back(std::move(n));
  return static_cast<int32_t>(nodes.size() - 1);
}

int32_t Grammar::any_value() {
  if (any_ >= 0) return any_;
  any_ = add(GrammarNode{});
  GrammarNode& n = nodes[static_cast<size_t>(any_)];
  n.additional = any_;
  n.items = any_;
  return any_;
}

int32_t Grammar::literal(std::string text, bool raw) {
  GrammarNode n;
  n.kind = GrammarNode::Kind::kLiteral;
  n.is_json = !raw;
  n.text = std::move(text);
  return add(std::move(n));
}

int32_t Grammar::sequence(std::vector<int32_t> children) {
  GrammarNode n;
  n.kind = GrammarNode::Kind::kSequence;
  n.is_json = false;
  n.children = std::move(children);
  return add(std::move(n));
}

int32_t Grammar::any_of(std::vector<int32_t> children) {
  GrammarNode n;
  n.kind = GrammarNode::Kind::kAnyOf;
  for (int32_t c : children) n.is_json = n.is_json && nodes[static_cast<size_t>(c)].is_json;
  n.children = std::move(children);
  return add(std::move(n));
}

int32_t Grammar::raw_until(std::string terminator) {
  GrammarNode n;
  n.kind = GrammarNode::Kind::kRawUntil;
  n.is_json = false;
  n.text = std::move(terminator);
  return add(std::move(n));
}

int32_t Grammar::text_or_until(std::string terminator) {
  const int32_t id = raw_until(std::move(terminator));
  nodes[static_cast<size_t>(id)].may_end = true;
  return id;
}

Result<int32_t> add_json_schema(Grammar& g, const nlohmann::json& schema, const SchemaOptions& opt) {
  Compiler c(g, schema, opt);
  return c.compile(schema, "#", 0);
}

Result<Grammar> compile_json_schema(const nlohmann::json& schema, const SchemaOptions& opt) {
  Grammar g;
  auto root = add_json_schema(g, schema, opt);
  if (!root.ok()) return root.status();
  g.root = *root;
  return g;
}

}  // namespace dseek
