// The value type of dseek's Jinja subset: Python-like semantics for the types
// chat templates use (undefined, none, bool, int, float, str, list, dict,
// namespace, macro). Lists/dicts are shared (cheap to copy); a namespace is a
// dict whose attributes `set ns.x = ...` may change. Not a general Python object.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace dseek::jinja {

struct Value;
using ValueList = std::vector<Value>;
using ValueDict = std::vector<std::pair<std::string, Value>>;  // insertion-ordered
struct Macro;

struct Value {
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kMacro };
  Kind kind = Kind::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<ValueList> list;
  std::shared_ptr<ValueDict> dict;  // also the namespace's attributes
  std::shared_ptr<const Macro> macro;

  static Value none() { Value v; v.kind = Kind::kNone; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::kBool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::kInt; v.i = x; return v; }
  static Value real(double x) { Value v; v.kind = Kind::kFloat; v.f = x; return v; }
  static Value str(std::string x) { Value v; v.kind = Kind::kString; v.s = std::move(x); return v; }
  static Value make_list(ValueList items = {}) {
    Value v; v.kind = Kind::kList; v.list = std::make_shared<ValueList>(std::move(items)); return v;
  }
  static Value make_dict(ValueDict items = {}) {
    Value v; v.kind = Kind::kDict; v.dict = std::make_shared<ValueDict>(std::move(items)); return v;
  }
  static Value from_json(const nlohmann::json& j);

  bool is_undefined() const { return kind == Kind::kUndefined; }
  bool is_none() const { return kind == Kind::kNone; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat || kind == Kind::kBool; }
  bool is_mapping() const { return kind == Kind::kDict || kind == Kind::kNamespace; }
  bool truthy() const;
  double as_double() const { return kind == Kind::kFloat ? f : static_cast<double>(kind == Kind::kBool ? b : i); }

  // Attribute/key lookup on dicts and namespaces (undefined when missing).
  const Value* find(const std::string& key) const;
  // str(x) as Python prints it ({{ x }}); undefined prints as "".
  std::string to_str() const;
  // repr(x) inside containers: strings quoted.
  std::string repr() const;
  // json.dumps(x, ensure_ascii=False) with Python's default separators; `indent` < 0: none.
  std::string to_json(int indent = -1, int depth = 0) const;
  std::string type_name() const;
};

bool values_equal(const Value& a, const Value& b);

}  // namespace dseek::jinja
