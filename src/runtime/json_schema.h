// A compiled grammar for constrained decoding: a subset of JSON Schema
// (draft 2020-12 keywords OpenAI's structured outputs use) plus raw-text nodes,
// so that a chat model's tool-call markup around JSON arguments is one grammar
// too. compile_json_schema refuses, with a message, every schema it cannot
// enforce exactly; it never ignores a validation keyword. GrammarState (in
// json_schema_checker.h) runs a grammar over bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace dseek {

// JSON types as a bit set (kNumber includes integers; kInteger alone forbids a fraction or exponent).
enum JsonTypeBit : uint8_t {
  kTypeNull = 1, kTypeBoolean = 2, kTypeInteger = 4, kTypeNumber = 8, kTypeString = 16, kTypeArray = 32, kTypeObject = 64,
  kTypeAny = 127,
};

struct GrammarProperty {
  std::string name;  // raw key bytes (no escapes needed: names with '"', '\\' or controls are refused)
  int32_t node = -1;
};

struct GrammarNode {
  enum class Kind : uint8_t {
    kJson,      // a JSON value of the allowed types and constraints below
    kAnyOf,     // one of children
    kLiteral,   // exactly `text` (enum/const values as compact JSON, or raw markup)
    kSequence,  // children one after another, nothing between them (markup)
    kRawUntil,  // any bytes, then `text` (the terminator, non-empty); the bytes hold no `text`.
                // DSML's raw string parameters: <｜DSML｜parameter …>TEXT</｜DSML｜parameter>
  };
  Kind kind = Kind::kJson;
  bool is_json = true;  // a JSON value position: whitespace may come before it
  uint8_t types = kTypeAny;
  std::vector<GrammarProperty> properties;  // at most 64
  uint64_t required = 0;                    // bit i: properties[i] is required
  int32_t additional = -1;                  // node for keys not in properties; -1: such keys are refused
  int32_t items = -1;                       // node of array items
  int32_t min_items = 0, max_items = -1;    // -1: unbounded
  int32_t min_length = 0, max_length = -1;  // string length in code points; -1: unbounded
  std::vector<int32_t> children;
  std::string text;
  bool may_end = false;  // kRawUntil: the output may also end inside the text (free text before optional markup)
};

struct Grammar {
  std::vector<GrammarNode> nodes;
  int32_t root = -1;

  int32_t add(GrammarNode n);
  // A node accepting any JSON value (created once per grammar).
  int32_t any_value();
  int32_t literal(std::string text, bool raw);
  int32_t sequence(std::vector<int32_t> children);
  int32_t any_of(std::vector<int32_t> children);
  // Raw text up to and including `terminator` (kRawUntil).
  int32_t raw_until(std::string terminator);
  // Free text that either ends the output or goes on into `terminator`
  // (kRawUntil with may_end): a reply before an optional tool-call block.
  int32_t text_or_until(std::string terminator);

 private:
  int32_t any_ = -1;
};

struct SchemaOptions {
  // OpenAI strict mode: objects without "additionalProperties" refuse other keys.
  bool strict = true;
};

// Adds `schema` to `g` and returns its node, or an error naming the keyword
// that cannot be enforced (pattern, minimum, oneOf, ...). Supported: type
// (string or array), properties, required, additionalProperties (bool or
// schema), enum, const, items, minItems, maxItems, minLength, maxLength,
// anyOf, allOf of one schema, $ref to "#", "#/$defs/..." or
// "#/definitions/...". Annotations (title, description, default, examples,
// $schema, $id, $comment, format) are accepted and not enforced: JSON Schema
// treats "format" as an annotation unless a validator opts in.
Result<int32_t> add_json_schema(Grammar& g, const nlohmann::json& schema, const SchemaOptions& opt);

// A grammar whose root is `schema` (a JSON document: whitespace may surround it).
Result<Grammar> compile_json_schema(const nlohmann::json& schema, const SchemaOptions& opt);

}  // namespace dseek
