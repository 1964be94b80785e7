// The built-in operators, filters, tests, methods and global functions of
// dseek's Jinja subset, with Python semantics (strings index by code point).
// Anything unknown is a RenderError naming it, raised only when evaluated
// (as jinja2 3.x does for filters inside branches never taken).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace dseek::jinja {

class RenderError : public std::runtime_error {
 public:
  RenderError(int line, const std::string& what)
      : std::runtime_error(line > 0 ? "template line " + std::to_string(line) + ": " + what : "template: " + what) {}
};

using KwArgs = std::vector<std::pair<std::string, Value>>;

// Lets filters such as map call macros back in the interpreter.
class CallContext {
 public:
  virtual ~CallContext() = default;
  virtual Value call(const Value& callee, std::vector<Value> args, KwArgs kwargs, int line) = 0;
};

ValueList iterate(const Value& v, int line);
Value index_sequence(const Value& v, int64_t index, int line);
Value slice(const Value& v, const Value& start, const Value& stop, const Value& step, int line);
Value binary_op(const std::string& op, const Value& a, const Value& b, int line);
Value apply_filter(CallContext& ctx, const std::string& name, Value subject, std::vector<Value> args, const KwArgs& kwargs, int line);
bool apply_test(CallContext& ctx, const std::string& name, const Value& subject, const std::vector<Value>& args, int line);
Value call_method(const Value& obj, const std::string& name, std::vector<Value> args, const KwArgs& kwargs, int line);
Value call_global(CallContext& ctx, const std::string& name, std::vector<Value> args, KwArgs kwargs, int line);
bool is_global_function(const std::string& name);

}  // namespace dseek::jinja
