// The schema engine against an independent check: documents generated from
// (and mutated away from) each schema are validated by the plain recursive
// validator below over nlohmann::json; GrammarState must accept exactly the
// valid ones (fed byte by byte, so every prefix of a valid one is accepted).
// Plus refusals, markup grammars with control tokens, and the token masker.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "runtime/json_schema.h"
#include "runtime/json_schema_checker.h"
#include "runtime/token_trie.h"

namespace dseek {
namespace {

using nlohmann::json;

const json& deref(const json& root, const json& s) {
  if (!s.is_object() || !s.contains("$ref")) return s;
  const std::string r = s["$ref"];
  if (r == "#") return root;
  const size_t slash = r.rfind('/');
  return root[r.substr(2, slash - 2)][r.substr(slash + 1)];
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool type_ok(const std::string& t, const json& v) {
  if (t == "null") return v.is_null();
  if (t == "boolean") return v.is_boolean();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  if (t == "string") return v.is_string();
  if (t == "array") return v.is_array();
  return v.is_object();
}

// Plain JSON Schema validation of the supported keywords (strict: additionalProperties defaults to false).
bool valid(const json& root, const json& schema, const json& v) {
  const json& s = deref(root, schema);
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("anyOf")) {
    for (const json& alt : s["anyOf"])
      if (valid(root, alt, v)) return true;
    return false;
  }
  if (s.contains("const") && v != s["const"]) return false;
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) return false;
  if (s.contains("type")) {
    const json types = s["type"].is_array() ? s["type"] : json::array({s["type"]});
    bool any = false;
    for (const json& t : types) any = any || type_ok(t.get<std::string>(), v);
    if (!any) return false;
  }
  if (v.is_string()) {
    const size_t n = code_points(v.get<std::string>());
    if (n < s.value("minLength", size_t{0}) || (s.contains("maxLength") && n > s["maxLength"].get<size_t>())) return false;
  }
  if (v.is_array()) {
    if (v.size() < s.value("minItems", size_t{0}) || (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>())) return false;
    for (const json& item : v)
      if (!valid(root, s.value("items", json(true)), item)) return false;
  }
  if (v.is_object()) {
    const json props = s.value("properties", json::object());
    for (const json& r : s.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) return false;
    for (const auto& [k, x] : v.items()) {
      if (props.contains(k)) {
        if (!valid(root, props[k], x)) return false;
      } else if (!valid(root, s.value("additionalProperties", json(false)), x)) {
        return false;
      }
    }
  }
  return true;
}

bool checker_accepts(const Grammar& g, const std::string& text) {
  GrammarState st(g);
  return st.feed(text) && st.complete();
}

// A random value, biased towards the schema's shape (so many are valid) but
// often off it (so many are not).
json generate(const json& root, const json& schema, std::mt19937& rng, int depth) {
  const json& s = deref(root, schema);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  if (pick(14) == 0 || depth > 5) {
    const json wild[] = {nullptr, true, 7, -2.5, "x", "héllo", json::array(), json::object(), "abcdefghij"};
    return wild[pick(9)];
  }
  if (!s.is_object()) return 1;
  if (s.contains("anyOf")) return generate(root, s["anyOf"][pick(s["anyOf"].size())], rng, depth + 1);
  if (s.contains("const")) return s["const"];
  if (s.contains("enum")) return s["enum"][pick(s["enum"].size())];
  std::string t = "object";
  if (s.contains("type")) t = s["type"].is_array() ? s["type"][pick(s["type"].size())].get<std::string>() : s["type"].get<std::string>();
  if (t == "null") return nullptr;
  if (t == "boolean") return pick(2) == 0;
  if (t == "integer") return static_cast<int>(pick(2000)) - 1000;
  if (t == "number") return pick(2) ? json(static_cast<double>(pick(1000)) / 8.0 - 50) : json(pick(90));
  if (t == "string") return std::string(1 + pick(3), "ab\"\\c\n"[pick(6)]) + (pick(4) ? "" : "é");
  if (t == "array") {
    json a = json::array();
    for (size_t i = pick(5); i > 0; --i) a.push_back(generate(root, s.value("items", json(true)), rng, depth + 1));
    return a;
  }
  json o = json::object();
  const json required = s.value("required", json::array());
  const json props = s.value("properties", json::object());
  for (const auto& [k, sub] : props.items()) {
    const bool req = std::find(required.begin(), required.end(), k) != required.end();
    if (pick(req ? 40 : 3) != 0) o[k] = generate(root, sub, rng, depth + 1);
  }
  if (pick(6) == 0) o["extra"] = 1;
  return o;
}

const char* kSchemas[] = {
    R"({"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":4},"age":{"type":"integer"},
        "tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":3},"ok":{"type":"boolean"},
        "x":{"type":["number","null"]},"unit":{"enum":["c","f",3,null]}},"required":["name","age"],"additionalProperties":false})",
    R"({"anyOf":[{"type":"object","properties":{"k":{"const":"a"},"v":{"type":"integer"}},"required":["k","v"]},
                 {"type":"object","properties":{"k":{"const":"b"},"v":{"type":"string"}},"required":["k","v"]}]})",
    R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
        "required":["v"],"additionalProperties":false}},"$ref":"#/$defs/node"})",
    R"({"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"number"}},"additionalProperties":{"type":"string"}}}})",
    R"({"type":["array","string","integer"],"items":{"anyOf":[{"type":"integer"},{"type":"string","maxLength":2}]},"maxLength":3})",
};

TEST(JsonSchema, AcceptsExactlyTheValidDocuments) {
  std::mt19937 rng(1234);
  for (const char* text : kSchemas) {
    const json schema = json::parse(text);
    auto g = compile_json_schema(schema, SchemaOptions{true});
    ASSERT_TRUE(g.ok()) << g.status().message();
    int n_valid = 0, n_invalid = 0;
    for (int i = 0; i < 1500; ++i) {
      const json doc = generate(schema, schema, rng, 0);
      const bool expect = valid(schema, schema, doc);
      const std::string s = i % 3 == 0 ? doc.dump(1) : doc.dump();
      ASSERT_EQ(checker_accepts(*g, s), expect) << text << "\n" << s;
      (expect ? n_valid : n_invalid)++;
    }
    EXPECT_GT(n_valid, 100) << text;
    EXPECT_GT(n_invalid, 100) << text;
  }
}

TEST(JsonSchema, RejectsAtTheFirstImpossibleByte) {
  auto g = compile_json_schema(json::parse(kSchemas[0]), SchemaOptions{true});
  ASSERT_TRUE(g.ok());
  GrammarState st(*g);
  EXPECT_TRUE(st.feed("{\"na"));
  EXPECT_FALSE(st.accepts("x"));          // no property starts "nax"
  EXPECT_FALSE(st.accepts("me\":\"\"}"));  // minLength 1, then required age missing
  EXPECT_TRUE(st.feed("me\":\"ab\", \"age\": 4"));
  EXPECT_FALSE(st.accepts("."));  // integer
  EXPECT_FALSE(st.accepts(",\"name\""));  // a duplicate key
  EXPECT_TRUE(st.feed("}"));
  EXPECT_TRUE(st.complete());
}

TEST(JsonSchema, NoDeadEndAtAStringsMaxLength) {
  auto g = compile_json_schema(json::parse(R"({"type":"string","maxLength":2})"), SchemaOptions{true});
  ASSERT_TRUE(g.ok());
  GrammarState st(*g);
  ASSERT_TRUE(st.feed("\"ab"));
  EXPECT_FALSE(st.accepts("\\"));  // an escape would be a third character
  EXPECT_TRUE(st.accepts("\""));
}

TEST(JsonSchema, RefusesWhatItCannotEnforce) {
  for (const char* bad : {R"({"type":"string","pattern":"a+"})", R"({"type":"integer","minimum":1})",
                          R"({"oneOf":[{"type":"string"}]})", R"({"$ref":"#/$defs/missing"})",
                          R"({"type":"object","required":["x"]})", R"({"type":"strin"})", R"(false)"}) {
    auto g = compile_json_schema(json::parse(bad), SchemaOptions{true});
    EXPECT_FALSE(g.ok()) << bad;
  }
}

TEST(JsonSchema, NonStrictObjectsTakeOtherKeys) {
  auto g = compile_json_schema(json::parse(R"({"type":"object","properties":{"a":{"type":"integer"}}})"), SchemaOptions{false});
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(checker_accepts(*g, R"({"a":1,"b":[true,{"c":null}]})"));
  EXPECT_FALSE(checker_accepts(*g, R"({"a":"1"})"));
}

TEST(JsonSchema, MarkupSequencesTakeControlTokensOnlyAsMarkup) {
  Grammar g;
  const int32_t args = g.any_value();
  g.root = g.sequence({g.literal("<SEP>", true), g.any_of({g.literal("f", true), g.literal("go", true)}), g.literal("\n", true), args,
                       g.literal("<END>", true)});
  GrammarState st(g);
  EXPECT_TRUE(st.feed_control("<SEP>"));
  EXPECT_FALSE(st.accepts("x"));
  EXPECT_TRUE(st.feed("go\n{\"a\":\""));
  EXPECT_FALSE(st.accepts_control("<END>"));  // inside a JSON string
  EXPECT_TRUE(st.feed("<END>\"}"));
  EXPECT_TRUE(st.feed_control("<END>"));
  EXPECT_TRUE(st.complete());
}

TEST(TokenMask, MatchesTryingEveryTokenAndCaches) {
  const std::vector<std::string> text = {"{", "\"", "na", "name", "me", "\":", "\"a", "b\"", "1", "12", ",", "}", " ", "<END>", "age", "\":1}", ""};
  std::vector<bool> control(text.size(), false);
  control[13] = true;
  auto vocab = std::make_shared<ConstraintVocab>(text, control);
  auto g = compile_json_schema(json::parse(kSchemas[0]), SchemaOptions{true});
  ASSERT_TRUE(g.ok());
  GrammarMasker masker(std::make_shared<Grammar>(*g), vocab);
  GrammarState st = masker.initial();
  const std::vector<int32_t> ends = {16};
  for (const char* prefix : {"", "{", "{\"", "{\"name\":\"ab\",\"age\":1"}) {
    GrammarState s = st;
    ASSERT_TRUE(s.feed(prefix));
    for (int round = 0; round < 2; ++round) {  // the second round comes from the cache
      std::vector<float> logits(text.size(), 0.0f);
      masker.mask(s, ends, logits.data());
      for (size_t i = 0; i + 1 < text.size(); ++i) {
        const bool want = control[i] ? s.accepts_control(text[i]) : s.accepts(text[i]);
        EXPECT_EQ(std::isfinite(logits[i]), want) << prefix << " + " << text[i];
      }
    }
  }
}

}  // namespace
}  // namespace dseek
