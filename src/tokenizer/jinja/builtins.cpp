// See builtins.h.
#include "tokenizer/jinja/builtins.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <optional>

namespace dseek::jinja {
namespace {

// Byte offsets of each code point of a UTF-8 string, plus the end.
std::vector<size_t> code_points(const std::string& s) {
  std::vector<size_t> offs;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) offs.push_back(i);
  offs.push_back(s.size());
  return offs;
}

const Value* kwarg(const KwArgs& kw, const char* name) {
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return nullptr;
}

// Positional argument `i`, else keyword `name`, else `def`.
Value arg(const std::vector<Value>& args, size_t i, const KwArgs& kw, const char* name, Value def = Value()) {
  if (i < args.size()) return args[i];
  if (const Value* v = kwarg(kw, name)) return *v;
  return def;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  auto drop = [&](char c) { return chars.is_string() ? chars.s.find(c) != std::string::npos : is_space(c); };
  size_t b = 0, e = s.size();
  if (left) while (b < e && drop(s[b])) ++b;
  if (right) while (e > b && drop(s[e - 1])) --e;
  return s.substr(b, e - b);
}

Value split(const std::string& s, const Value& sep, int64_t maxsplit) {
  ValueList out;
  if (sep.is_none() || sep.is_undefined()) {  // runs of whitespace, no empty pieces
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && is_space(s[i])) ++i;
      if (i >= s.size()) break;
      size_t j = i;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        out.push_back(Value::str(strip(s.substr(i), Value(), false, true)));
        break;
      }
      while (j < s.size() && !is_space(s[j])) ++j;
      out.push_back(Value::str(s.substr(i, j - i)));
      i = j;
    }
    return Value::make_list(std::move(out));
  }
  if (!sep.is_string() || sep.s.empty()) throw RenderError(0, "split: empty separator");
  size_t start = 0;
  for (;;) {
    const size_t p = (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) ? std::string::npos : s.find(sep.s, start);
    if (p == std::string::npos) {
      out.push_back(Value::str(s.substr(start)));
      break;
    }
    out.push_back(Value::str(s.substr(start, p - start)));
    start = p + sep.s.size();
  }
  return Value::make_list(std::move(out));
}

std::string replace_all(std::string s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) return s;
  size_t p = 0;
  for (int64_t n = 0; (count < 0 || n < count) && (p = s.find(from, p)) != std::string::npos; ++n) {
    s.replace(p, from.size(), to);
    p += to.size();
  }
  return s;
}

bool starts_or_ends(const std::string& s, const Value& x, bool starts) {
  auto one = [&](const std::string& a) {
    if (a.size() > s.size()) return false;
    return starts ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (x.is_string()) return one(x.s);
  if (x.kind == Value::Kind::kList)
    for (const auto& e : *x.list)
      if (e.is_string() && one(e.s)) return true;
  return false;
}

std::string case_map(std::string s, int mode) {  // 0 upper, 1 lower, 2 capitalize, 3 title (ASCII letters)
  bool start = true;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (mode == 0) s[i] = static_cast<char>(std::toupper(c));
    else if (mode == 1) s[i] = static_cast<char>(std::tolower(c));
    else if (mode == 2) s[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
    else {
      s[i] = static_cast<char>(start ? std::toupper(c) : std::tolower(c));
      start = !std::isalnum(c);
    }
  }
  return s;
}

int compare_values(const Value& a, const Value& b, int line) {
  if (a.is_number() && b.is_number()) return a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double() ? 1 : 0;
  if (a.is_string() && b.is_string()) return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
  throw RenderError(line, "cannot compare '" + a.type_name() + "' with '" + b.type_name() + "'");
}

bool contains(const Value& container, const Value& x, int line) {
  if (container.is_string()) {
    if (!x.is_string()) throw RenderError(line, "'in <string>' requires a string on the left");
    return container.s.find(x.s) != std::string::npos;
  }
  if (container.kind == Value::Kind::kList) {
    for (const auto& e : *container.list)
      if (values_equal(e, x)) return true;
    return false;
  }
  if (container.is_mapping()) return container.find(x.to_str()) != nullptr;
  if (container.is_undefined()) return false;
  throw RenderError(line, "argument of type '" + container.type_name() + "' is not iterable");
}

}  // namespace

ValueList iterate(const Value& v, int line) {
  switch (v.kind) {
    case Value::Kind::kUndefined: case Value::Kind::kNone: return {};
    case Value::Kind::kList: return *v.list;
    case Value::Kind::kDict: {
      ValueList keys;
      for (const auto& [k, val] : *v.dict) keys.push_back(Value::str(k));
      return keys;
    }
    case Value::Kind::kString: {
      ValueList chars;
      const auto offs = code_points(v.s);
      for (size_t k = 0; k + 1 < offs.size(); ++k) chars.push_back(Value::str(v.s.substr(offs[k], offs[k + 1] - offs[k])));
      return chars;
    }
    default: throw RenderError(line, "'" + v.type_name() + "' object is not iterable");
  }
}

Value index_sequence(const Value& v, int64_t index, int line) {
  if (v.kind == Value::Kind::kList) {
    const int64_t n = static_cast<int64_t>(v.list->size());
    if (index < 0) index += n;
    return index >= 0 && index < n ? (*v.list)[static_cast<size_t>(index)] : Value();
  }
  if (v.is_string()) {
    const auto offs = code_points(v.s);
    const int64_t n = static_cast<int64_t>(offs.size()) - 1;
    if (index < 0) index += n;
    if (index < 0 || index >= n) return Value();
    return Value::str(v.s.substr(offs[static_cast<size_t>(index)], offs[static_cast<size_t>(index) + 1] - offs[static_cast<size_t>(index)]));
  }
  throw RenderError(line, "'" + v.type_name() + "' object is not subscriptable");
}

Value slice(const Value& v, const Value& start_v, const Value& stop_v, const Value& step_v, int line) {
  const bool is_str = v.is_string();
  if (!is_str && v.kind != Value::Kind::kList) throw RenderError(line, "cannot slice '" + v.type_name() + "'");
  const auto offs = is_str ? code_points(v.s) : std::vector<size_t>{};
  const int64_t n = is_str ? static_cast<int64_t>(offs.size()) - 1 : static_cast<int64_t>(v.list->size());
  const int64_t step = step_v.kind == Value::Kind::kInt ? step_v.i : 1;
  if (step == 0) throw RenderError(line, "slice step cannot be zero");
  auto norm = [&](const Value& x, int64_t def) -> int64_t {  // Python's slice index adjustment
    if (x.kind != Value::Kind::kInt) return def;
    int64_t i = x.i < 0 ? x.i + n : x.i;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t start = norm(start_v, step > 0 ? 0 : n - 1), stop = norm(stop_v, step > 0 ? n : -1);
  std::string s;
  ValueList items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    if (is_str) s += v.s.substr(offs[static_cast<size_t>(i)], offs[static_cast<size_t>(i) + 1] - offs[static_cast<size_t>(i)]);
    else items.push_back((*v.list)[static_cast<size_t>(i)]);
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return is_str ? Value::str(s) : Value::make_list(std::move(items));
}

// Python's integers never overflow; ours are 64-bit, so an overflow is a render error rather than
// undefined behaviour or a silently wrapped number.
template <typename Op>
static int64_t checked(Op op, int64_t a, int64_t b, int line) {
  int64_t r = 0;
  if (op(a, b, &r)) throw RenderError(line, "integer overflow (dseek's template integers are 64-bit)");
  return r;
}
static bool add_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_add_overflow(a, b, r); }
static bool sub_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_sub_overflow(a, b, r); }
static bool mul_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

namespace {

bool int_like(const Value& v) { return v.kind == Value::Kind::kInt || v.kind == Value::Kind::kBool; }
int64_t int_of(const Value& v) { return v.kind == Value::Kind::kBool ? v.b : v.i; }

// string + string, list + list, string * int: nothing for other operands.
std::optional<Value> sequence_op(const std::string& op, const Value& a, const Value& b, int line) {
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value::str(a.s + b.s);
    if (a.kind == Value::Kind::kList && b.kind == Value::Kind::kList) {
      ValueList items = *a.list;
      items.insert(items.end(), b.list->begin(), b.list->end());
      return Value::make_list(std::move(items));
    }
  }
  if (op == "*" && ((a.is_string() && b.kind == Value::Kind::kInt) || (b.is_string() && a.kind == Value::Kind::kInt))) {
    const std::string& s = a.is_string() ? a.s : b.s;
    const int64_t n = a.is_string() ? int_of(b) : int_of(a);
    if (n > 0 && !s.empty() && static_cast<uint64_t>(n) > (16u << 20) / s.size())
      throw RenderError(line, "string repetition too large");
    std::string out;
    for (int64_t k = 0; k < n; ++k) out += s;
    return Value::str(out);
  }
  return std::nullopt;
}

// Python's arithmetic: integers stay 64-bit integers (overflow is an error), floors for // and %.
Value numeric_op(const std::string& op, const Value& a, const Value& b, int line) {
  if (!a.is_number() || !b.is_number())
    throw RenderError(line, "unsupported operand types for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
  const bool ints = int_like(a) && int_like(b);
  const int64_t ai = int_of(a), bi = int_of(b);
  const double x = a.as_double(), y = b.as_double();
  if (op == "+") return ints ? Value::integer(checked(add_ovf, ai, bi, line)) : Value::real(x + y);
  if (op == "-") return ints ? Value::integer(checked(sub_ovf, ai, bi, line)) : Value::real(x - y);
  if (op == "*") return ints ? Value::integer(checked(mul_ovf, ai, bi, line)) : Value::real(x * y);
  if (op == "/") {
    if (y == 0) throw RenderError(line, "division by zero");
    return Value::real(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) throw RenderError(line, "integer division or modulo by zero");
    if (ints) {
      if (ai == INT64_MIN && bi == -1) throw RenderError(line, "integer overflow (dseek's template integers are 64-bit)");
      int64_t q = ai / bi, r = ai % bi;
      if (r != 0 && ((r < 0) != (bi < 0))) --q, r += bi;  // Python floors
      return Value::integer(op == "//" ? q : r);
    }
    const double q = std::floor(x / y);
    return Value::real(op == "//" ? q : x - q * y);
  }
  if (op == "**") {
    if (!ints || bi < 0) return Value::real(std::pow(x, y));
    if (ai == 0 || ai == 1) return Value::integer(bi == 0 ? 1 : ai);
    if (ai == -1) return Value::integer(bi % 2 == 0 ? 1 : -1);
    int64_t acc = 1;  // |ai| >= 2 overflows within 64 steps, so this loop is short
    for (int64_t k = 0; k < bi; ++k) acc = checked(mul_ovf, acc, ai, line);
    return Value::integer(acc);
  }
  throw RenderError(line, "unknown operator " + op);
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b, int line) {
  if (op == "==") return Value::boolean(values_equal(a, b));
  if (op == "!=") return Value::boolean(!values_equal(a, b));
  if (op == "<") return Value::boolean(compare_values(a, b, line) < 0);
  if (op == ">") return Value::boolean(compare_values(a, b, line) > 0);
  if (op == "<=") return Value::boolean(compare_values(a, b, line) <= 0);
  if (op == ">=") return Value::boolean(compare_values(a, b, line) >= 0);
  if (op == "in") return Value::boolean(contains(b, a, line));
  if (op == "not in") return Value::boolean(!contains(b, a, line));
  if (op == "~") return Value::str(a.to_str() + b.to_str());
  if (std::optional<Value> v = sequence_op(op, a, b, line)) return *std::move(v);
  return numeric_op(op, a, b, line);
}

bool apply_test(CallContext& ctx, const std::string& name, const Value& v, const std::vector<Value>& args, int line) {
  using K = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.kind == K::kInt || v.kind == K::kFloat;
  if (name == "integer") return v.kind == K::kInt;
  if (name == "float") return v.kind == K::kFloat;
  if (name == "boolean") return v.kind == K::kBool;
  if (name == "true") return v.kind == K::kBool && v.b;
  if (name == "false") return v.kind == K::kBool && !v.b;
  if (name == "mapping") return v.kind == K::kDict;
  if (name == "sequence") return v.kind == K::kList || v.is_string() || v.kind == K::kDict;
  if (name == "iterable") return v.kind == K::kList || v.is_string() || v.kind == K::kDict;
  if (name == "callable") return v.kind == K::kMacro;
  if (name == "odd" || name == "even") {
    if (v.kind != K::kInt) throw RenderError(line, "test '" + name + "' needs an integer");
    return (v.i % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const Value d = args.empty() ? Value() : args[0];
    if (v.kind != K::kInt || d.kind != K::kInt || d.i == 0) throw RenderError(line, "divisibleby needs integers");
    return v.i % d.i == 0;
  }
  if (name == "lower") return v.is_string() && case_map(v.s, 1) == v.s;
  if (name == "upper") return v.is_string() && case_map(v.s, 0) == v.s;
  static const std::pair<const char*, const char*> kCmp[] = {{"eq", "=="}, {"equalto", "=="}, {"==", "=="}, {"ne", "!="},
                                                              {"lt", "<"}, {"le", "<="}, {"gt", ">"}, {"ge", ">="},
                                                              {"in", "in"}, {"sameas", "=="}};
  for (const auto& [t, op] : kCmp)
    if (name == t) return binary_op(op, v, args.empty() ? Value() : args[0], line).truthy();
  (void)ctx;
  throw RenderError(line, "no test named '" + name + "'");
}

namespace {

// str methods; nothing for a name that is not one.
std::optional<Value> string_method(const std::string& s, const std::string& name, const std::vector<Value>& args, const KwArgs& kw, int line) {
  if (name == "strip" || name == "lstrip" || name == "rstrip")
    return Value::str(strip(s, arg(args, 0, kw, "chars"), name != "rstrip", name != "lstrip"));
  if (name == "split") {
    const Value ms = arg(args, 1, kw, "maxsplit", Value::integer(-1));
    return split(s, arg(args, 0, kw, "sep", Value::none()), ms.kind == Value::Kind::kInt ? ms.i : -1);
  }
  if (name == "startswith" || name == "endswith") return Value::boolean(starts_or_ends(s, arg(args, 0, kw, "prefix"), name == "startswith"));
  if (name == "replace") {
    const Value c = arg(args, 2, kw, "count", Value::integer(-1));
    return Value::str(replace_all(s, arg(args, 0, kw, "old").to_str(), arg(args, 1, kw, "new").to_str(), c.kind == Value::Kind::kInt ? c.i : -1));
  }
  if (name == "upper") return Value::str(case_map(s, 0));
  if (name == "lower") return Value::str(case_map(s, 1));
  if (name == "capitalize") return Value::str(case_map(s, 2));
  if (name == "title") return Value::str(case_map(s, 3));
  if (name == "find") {
    const size_t p = s.find(arg(args, 0, kw, "sub").to_str());
    return Value::integer(p == std::string::npos ? -1 : static_cast<int64_t>(code_points(s.substr(0, p)).size() - 1));
  }
  if (name == "count") {
    const std::string sub = arg(args, 0, kw, "sub").to_str();
    int64_t n = 0;
    for (size_t p = 0; !sub.empty() && (p = s.find(sub, p)) != std::string::npos; p += sub.size()) ++n;
    return Value::integer(n);
  }
  if (name == "join") {
    std::string out;
    const ValueList items = iterate(arg(args, 0, kw, "iterable"), line);
    for (size_t k = 0; k < items.size(); ++k) out += (k ? s : "") + items[k].to_str();
    return Value::str(out);
  }
  if (name == "splitlines") {
    Value parts = split(s, Value::str("\n"), -1);
    if (!parts.list->empty() && parts.list->back().s.empty()) parts.list->pop_back();
    return parts;
  }
  if (name == "isdigit" || name == "isspace" || name == "isalpha") {
    bool all = !s.empty();
    for (unsigned char c : s)
      all = all && (name == "isdigit" ? std::isdigit(c) : name == "isspace" ? is_space(static_cast<char>(c)) : std::isalpha(c));
    return Value::boolean(all);
  }
  return std::nullopt;
}

// dict methods; nothing for a name that is not one.
std::optional<Value> dict_method(const Value& obj, const std::string& name, const std::vector<Value>& args, const KwArgs& kw) {
  if (name == "items") {
    ValueList out;
    for (const auto& [k, v] : *obj.dict) out.push_back(Value::make_list({Value::str(k), v}));
    return Value::make_list(std::move(out));
  }
  if (name == "keys" || name == "values") {
    ValueList out;
    for (const auto& [k, v] : *obj.dict) out.push_back(name == "keys" ? Value::str(k) : v);
    return Value::make_list(std::move(out));
  }
  if (name == "get") {
    const Value* v = obj.find(arg(args, 0, kw, "key").to_str());
    return v ? *v : arg(args, 1, kw, "default", Value::none());
  }
  return std::nullopt;
}

}  // namespace

Value call_method(const Value& obj, const std::string& name, std::vector<Value> args, const KwArgs& kw, int line) {
  if (obj.is_string())
    if (std::optional<Value> v = string_method(obj.s, name, args, kw, line)) return *std::move(v);
  if (obj.kind == Value::Kind::kDict)
    if (std::optional<Value> v = dict_method(obj, name, args, kw)) return *std::move(v);
  if (obj.is_undefined()) throw RenderError(line, "cannot call '" + name + "' on an undefined value");
  throw RenderError(line, "'" + obj.type_name() + "' object has no method '" + name + "' (or it is not allowed)");
}

bool is_global_function(const std::string& name) {
  return name == "raise_exception" || name == "namespace" || name == "range" || name == "dict";
}

Value call_global(CallContext& ctx, const std::string& name, std::vector<Value> args, KwArgs kwargs, int line) {
  if (name == "raise_exception") throw RenderError(line, args.empty() ? "raise_exception()" : args[0].to_str());
  if (name == "namespace" || name == "dict") {
    ValueDict attrs;
    if (!args.empty() && args[0].is_mapping()) attrs = *args[0].dict;
    for (auto& [k, v] : kwargs) attrs.emplace_back(k, std::move(v));
    Value ns = Value::make_dict(std::move(attrs));
    if (name == "namespace") ns.kind = Value::Kind::kNamespace;
    return ns;
  }
  if (name == "range") {
    int64_t start = 0, stop = 0, step = 1;
    auto as_int = [&](const Value& v) {
      if (v.kind != Value::Kind::kInt) throw RenderError(line, "range() needs integers");
      return v.i;
    };
    if (args.size() == 1) stop = as_int(args[0]);
    else if (args.size() >= 2) start = as_int(args[0]), stop = as_int(args[1]);
    if (args.size() >= 3) step = as_int(args[2]);
    if (step == 0) throw RenderError(line, "range() step must not be zero");
    ValueList out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
      if (out.size() > 1'000'000) throw RenderError(line, "range() too long");
      out.push_back(Value::integer(i));
      if (__builtin_add_overflow(i, step, &i)) break;  // the next value lies past any 64-bit stop
    }
    return Value::make_list(std::move(out));
  }
  (void)ctx;
  throw RenderError(line, "'" + name + "' is undefined (not a function)");
}

namespace {

// The filters by what they work on; each returns nothing for a name it does not know.
std::optional<Value> text_filter(CallContext& ctx, const std::string& name, const Value& v, const std::vector<Value>& args, const KwArgs& kw, int line) {
  using K = Value::Kind;
  if (name == "tojson") {
    const Value indent = arg(args, 0, kw, "indent", Value::none());
    return Value::str(v.to_json(indent.kind == K::kInt ? static_cast<int>(indent.i) : -1));
  }
  if (name == "safe") return v;
  if (name == "string") return Value::str(v.to_str());
  if (name == "trim") return Value::str(strip(v.to_str(), arg(args, 0, kw, "chars"), true, true));
  if (name == "upper") return Value::str(case_map(v.to_str(), 0));
  if (name == "lower") return Value::str(case_map(v.to_str(), 1));
  if (name == "capitalize") return Value::str(case_map(v.to_str(), 2));
  if (name == "title") return Value::str(case_map(v.to_str(), 3));
  if (name == "replace") {
    const Value c = arg(args, 2, kw, "count", Value::integer(-1));
    return Value::str(replace_all(v.to_str(), arg(args, 0, kw, "old").to_str(), arg(args, 1, kw, "new").to_str(), c.kind == K::kInt ? c.i : -1));
  }
  return std::nullopt;
}

std::optional<Value> number_filter(CallContext& ctx, const std::string& name, const Value& v, const std::vector<Value>& args, const KwArgs& kw, int line) {
  using K = Value::Kind;
  if (name == "int") {
    if (v.kind == K::kFloat) {
      if (!(std::fabs(v.f) < 9.2e18)) throw RenderError(line, "cannot convert float " + v.to_str() + " to a 64-bit integer");
      return Value::integer(static_cast<int64_t>(v.f));
    }
    if (v.is_number()) return Value::integer(v.kind == K::kBool ? v.b : v.i);
    try {
      return Value::integer(std::stoll(v.to_str()));
    } catch (...) {
      return arg(args, 0, kw, "default", Value::integer(0));
    }
  }
  if (name == "float") {
    if (v.is_number()) return Value::real(v.as_double());
    try {
      return Value::real(std::stod(v.to_str()));
    } catch (...) {
      return arg(args, 0, kw, "default", Value::real(0.0));
    }
  }
  if (name == "abs") {
    if (v.kind == K::kInt) {
      if (v.i == INT64_MIN) throw RenderError(line, "integer overflow (dseek's template integers are 64-bit)");
      return Value::integer(v.i < 0 ? -v.i : v.i);
    }
    if (v.kind == K::kFloat) return Value::real(std::fabs(v.f));
    throw RenderError(line, "abs needs a number");
  }
  return std::nullopt;
}

std::optional<Value> sequence_filter(CallContext& ctx, const std::string& name, const Value& v, const std::vector<Value>& args, const KwArgs& kw, int line) {
  using K = Value::Kind;
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value::integer(static_cast<int64_t>(code_points(v.s).size()) - 1);
    if (v.kind == K::kList) return Value::integer(static_cast<int64_t>(v.list->size()));
    if (v.is_mapping()) return Value::integer(static_cast<int64_t>(v.dict->size()));
    if (v.is_undefined()) return Value::integer(0);
    throw RenderError(line, "object of type '" + v.type_name() + "' has no length");
  }
  if (name == "default" || name == "d") {
    const bool boolean = arg(args, 1, kw, "boolean", Value::boolean(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return arg(args, 0, kw, "default_value", Value::str(""));
    return v;
  }
  if (name == "join") {
    const std::string sep = arg(args, 0, kw, "d", Value::str("")).to_str();
    const Value attr = arg(args, 1, kw, "attribute");
    std::string out;
    const ValueList items = iterate(v, line);
    for (size_t k = 0; k < items.size(); ++k) {
      const Value* item = attr.is_undefined() ? &items[k] : items[k].find(attr.to_str());
      out += (k ? sep : "") + (item ? item->to_str() : "");
    }
    return Value::str(out);
  }
  if (name == "first" || name == "last") {
    const ValueList items = iterate(v, line);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "items") return call_method(v.is_undefined() ? Value::make_dict() : v, "items", {}, {}, line);
  if (name == "list") return Value::make_list(iterate(v, line));
  if (name == "reverse") {
    if (v.is_string()) return slice(v, Value(), Value(), Value::integer(-1), line);
    ValueList items = iterate(v, line);
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
  }
  if (name == "unique") {
    ValueList out;
    for (const auto& item : iterate(v, line))
      if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return values_equal(o, item); })) out.push_back(item);
    return Value::make_list(std::move(out));
  }
  return std::nullopt;
}

// map, select, reject, selectattr, rejectattr.
Value map_or_select(CallContext& ctx, const std::string& name, const Value& v, const std::vector<Value>& args, const KwArgs& kw, int line) {
  ValueList out;
  const Value attr_kw = arg({}, 0, kw, "attribute");
  for (const auto& item : iterate(v, line)) {
    if (name == "map") {
      if (!attr_kw.is_undefined()) {
        const Value* a = item.find(attr_kw.to_str());
        out.push_back(a ? *a : arg({}, 0, kw, "default"));
      } else if (!args.empty()) {
        std::vector<Value> rest(args.begin() + 1, args.end());
        out.push_back(apply_filter(ctx, args[0].to_str(), item, rest, {}, line));
      }
      continue;
    }
    const bool by_attr = name == "selectattr" || name == "rejectattr";
    const Value subject = by_attr ? (item.find(args.empty() ? "" : args[0].to_str()) ? *item.find(args[0].to_str()) : Value()) : item;
    const size_t test_at = by_attr ? 1 : 0;
    bool ok;
    if (args.size() <= test_at) {
      ok = subject.truthy();
    } else {
      std::vector<Value> targs(args.begin() + static_cast<long>(test_at) + 1, args.end());
      ok = apply_test(ctx, args[test_at].to_str(), subject, targs, line);
    }
    if (ok == (name == "select" || name == "selectattr")) out.push_back(item);
  }
  return Value::make_list(std::move(out));
}

}  // namespace

Value apply_filter(CallContext& ctx, const std::string& name, Value v, std::vector<Value> args, const KwArgs& kw, int line) {
  if (name == "map" || name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr")
    return map_or_select(ctx, name, v, args, kw, line);
  for (auto* filter : {text_filter, number_filter, sequence_filter})
    if (std::optional<Value> out = filter(ctx, name, v, args, kw, line)) return *std::move(out);
  throw RenderError(line, "no filter named '" + name + "'");
}

}  // namespace dseek::jinja
