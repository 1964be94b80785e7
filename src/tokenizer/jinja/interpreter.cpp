// See interpreter.h. Errors (and break/continue) unwind with C++ exceptions
// inside the interpreter only; render() turns them into a Status.
#include "tokenizer/jinja/interpreter.h"

#include <cmath>
#include <map>
#include <unordered_map>

#include "tokenizer/jinja/builtins.h"

namespace dseek::jinja {
namespace {

// Nested eval() calls allowed in one render (each costs a few stack frames).
constexpr int kMaxEvalNesting = 256;

struct BreakSignal {};
struct ContinueSignal {};

class Interpreter final : public CallContext {
 public:
  Interpreter(const Value& context, const RenderLimits& limits) : limits_(limits) {
    scopes_.emplace_back();
    if (context.is_mapping())
      for (const auto& [k, v] : *context.dict) scopes_.back()[k] = v;
  }

  std::string run(const Body& body) {
    std::string out;
    exec(body, out);
    return out;
  }

  // CallContext: filters like map/select call back into the interpreter.
  Value call(const Value& callee, std::vector<Value> args, std::vector<std::pair<std::string, Value>> kwargs,
             int line) override {
    if (callee.kind != Value::Kind::kMacro) throw RenderError(line, "'" + callee.type_name() + "' object is not callable");
    return call_macro(*callee.macro->node, std::move(args), std::move(kwargs), line);
  }

 private:
  void step(int line) {
    if (++steps_ > limits_.max_steps) throw RenderError(line, "template exceeded its work limit (an endless loop?)");
  }

  void emit(std::string& out, const std::string& s, int line) {
    out += s;
    if (out.size() > limits_.max_output) throw RenderError(line, "template output exceeds the size limit");
  }

  void exec(const Body& body, std::string& out) {
    for (const auto& n : body) exec(*n, out);
  }

  void exec(const Node& n, std::string& out) {
    step(n.line);
    switch (n.kind) {
      case Node::Kind::kText: emit(out, n.text, n.line); return;
      case Node::Kind::kOutput: emit(out, eval(*n.expr).to_str(), n.line); return;
      case Node::Kind::kIf:
        for (const auto& [cond, body] : n.branches)
          if (!cond || eval(*cond).truthy()) return exec(body, out);
        return;
      case Node::Kind::kFor: return exec_for(n, out);
      case Node::Kind::kSet: return exec_set(n);
      case Node::Kind::kMacro: {
        Value m;
        m.kind = Value::Kind::kMacro;
        m.macro = std::make_shared<Macro>(Macro{&n});
        scopes_.back()[n.name] = m;
        return;
      }
      case Node::Kind::kBreak: throw BreakSignal{};
      case Node::Kind::kContinue: throw ContinueSignal{};
    }
  }

  void exec_set(const Node& n) {
    Value v = eval(*n.expr);
    if (n.targets.size() == 1) {
      scopes_.back()[n.targets[0]] = std::move(v);
      return;
    }
    Value ns = lookup(n.targets[0]);
    if (ns.kind != Value::Kind::kNamespace)
      throw RenderError(n.line, "cannot assign attribute '" + n.targets[1] + "' on '" + n.targets[0] + "' (not a namespace)");
    for (auto& [k, val] : *ns.dict)
      if (k == n.targets[1]) {
        val = std::move(v);
        return;
      }
    ns.dict->emplace_back(n.targets[1], std::move(v));
  }

  void exec_for(const Node& n, std::string& out) {
    const Value seq = eval(*n.expr);
    ValueList items = iterate(seq, n.line);
    if (n.filter) {  // `for x in xs if cond`: filter before loop.length is known
      ValueList kept;
      for (auto& it : items) {
        ScopeGuard g(*this);
        bind_targets(n, it);
        if (eval(*n.filter).truthy()) kept.push_back(it);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec(n.else_body, out);
    const int64_t len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
      step(n.line);  // an empty body still costs work
      ScopeGuard g(*this);
      bind_targets(n, items[static_cast<size_t>(i)]);
      ValueDict loop = {{"index", Value::integer(i + 1)},  {"index0", Value::integer(i)},
                        {"first", Value::boolean(i == 0)}, {"last", Value::boolean(i == len - 1)},
                        {"length", Value::integer(len)},   {"revindex", Value::integer(len - i)},
                        {"revindex0", Value::integer(len - i - 1)},
                        {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value()},
                        {"nextitem", i + 1 < len ? items[static_cast<size_t>(i + 1)] : Value()}};
      scopes_.back()["loop"] = Value::make_dict(std::move(loop));
      try {
        exec(n.body, out);
      } catch (const BreakSignal&) {
        break;
      } catch (const ContinueSignal&) {
      }
    }
  }

  void bind_targets(const Node& n, const Value& item) {
    if (n.targets.size() == 1) {
      scopes_.back()[n.targets[0]] = item;
      return;
    }
    const ValueList parts = item.kind == Value::Kind::kList ? *item.list : ValueList{};
    if (parts.size() != n.targets.size())
      throw RenderError(n.line, "cannot unpack " + item.type_name() + " into " + std::to_string(n.targets.size()) + " loop variables");
    for (size_t k = 0; k < parts.size(); ++k) scopes_.back()[n.targets[k]] = parts[k];
  }

  struct ScopeGuard {
    Interpreter& in;
    explicit ScopeGuard(Interpreter& i) : in(i) {
      if (static_cast<int>(in.scopes_.size()) > in.limits_.max_depth) throw RenderError(0, "template recursion too deep");
      in.scopes_.emplace_back();
    }
    ~ScopeGuard() { in.scopes_.pop_back(); }
  };

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    return Value();
  }

  Value call_macro(const Node& m, std::vector<Value> args, std::vector<std::pair<std::string, Value>> kwargs, int line) {
    if (args.size() > m.params.size()) throw RenderError(line, "macro '" + m.name + "' takes " + std::to_string(m.params.size()) + " arguments");
    // Macros see the template's globals and their own parameters, not the caller's locals.
    std::vector<std::unordered_map<std::string, Value>> saved(scopes_.begin() + 1, scopes_.end());
    scopes_.resize(1);
    std::string out;
    try {
      ScopeGuard g(*this);
      for (size_t k = 0; k < m.params.size(); ++k) {
        const std::string& pname = m.params[k].first;  // (no structured binding: clang 14 cannot capture one)
        const ExprPtr& def = m.params[k].second;
        Value v;
        if (k < args.size()) v = args[k];
        else if (auto it = std::find_if(kwargs.begin(), kwargs.end(), [&](auto& kv) { return kv.first == pname; }); it != kwargs.end()) v = it->second;
        else if (def) v = eval(*def);
        scopes_.back()[pname] = v;
      }
      if (++depth_ > limits_.max_depth) throw RenderError(line, "macro recursion too deep");
      exec(m.body, out);
      --depth_;
    } catch (...) {
      scopes_.insert(scopes_.end(), saved.begin(), saved.end());
      throw;
    }
    scopes_.insert(scopes_.end(), saved.begin(), saved.end());
    return Value::str(out);
  }

  Value eval(const Expr& e) {
    step(e.line);
    // Expression nesting adds up across macro calls (a macro calling itself inside a
    // deep expression): bound the total so the C++ stack holds it.
    struct Nesting {
      int& d;
      Nesting(int& depth, int line) : d(depth) {
        if (++d > kMaxEvalNesting) --d, throw RenderError(line, "expressions nested too deeply (over " + std::to_string(kMaxEvalNesting) + " levels, macro calls included)");
      }
      ~Nesting() { --d; }
    } nesting(eval_nesting_, e.line);
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.literal;
      case Expr::Kind::kName: {
        Value v = lookup(e.name);
        if (v.is_undefined() && is_global_function(e.name)) v = Value::str("<function " + e.name + ">");
        return v;
      }
      case Expr::Kind::kList: case Expr::Kind::kTuple: {
        ValueList items;
        for (const auto& a : e.args) items.push_back(eval(*a));
        return Value::make_list(std::move(items));
      }
      case Expr::Kind::kDict: {
        ValueDict items;
        for (size_t k = 0; k < e.args.size(); ++k) items.emplace_back(eval(*e.dict_keys[k]).to_str(), eval(*e.args[k]));
        return Value::make_dict(std::move(items));
      }
      case Expr::Kind::kAttr: return get_attr(eval(*e.args[0]), e.name, e);
      case Expr::Kind::kItem: return get_item(eval(*e.args[0]), eval(*e.args[1]), e);
      case Expr::Kind::kSlice: {
        const Value base = eval(*e.args[0]);
        auto opt = [&](const ExprPtr& p) { return p ? eval(*p) : Value::none(); };
        return slice(base, opt(e.args[1]), opt(e.args[2]), opt(e.args[3]), e.line);
      }
      case Expr::Kind::kCall: return eval_call(e);
      case Expr::Kind::kFilter: return eval_filter(e);
      case Expr::Kind::kTest: return eval_test(e);
      case Expr::Kind::kNot: return Value::boolean(!eval(*e.args[0]).truthy());
      case Expr::Kind::kNeg: return eval_neg(e);
      case Expr::Kind::kTernary: {
        if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
        return e.args.size() > 2 ? eval(*e.args[2]) : Value();
      }
      case Expr::Kind::kBinary: return eval_binary(e);
    }
    return Value();
  }

  // x | name(args, kw=...)
  Value eval_filter(const Expr& e) {
    Value subject = eval(*e.args[0]);
    std::vector<Value> args;
    for (size_t k = 1; k < e.args.size(); ++k) args.push_back(eval(*e.args[k]));
    return apply_filter(*this, e.name, std::move(subject), std::move(args), eval_kwargs(e), e.line);
  }

  // x is [not] name(args)
  Value eval_test(const Expr& e) {
    Value subject = eval(*e.args[0]);
    std::vector<Value> args;
    for (size_t k = 1; k < e.args.size(); ++k) args.push_back(eval(*e.args[k]));
    const bool r = apply_test(*this, e.name, subject, args, e.line);
    return Value::boolean(e.negated ? !r : r);
  }

  Value eval_neg(const Expr& e) {
    const Value v = eval(*e.args[0]);
    if (v.kind == Value::Kind::kInt) return Value::integer(-v.i);
    if (v.kind == Value::Kind::kFloat) return Value::real(-v.f);
    throw RenderError(e.line, "bad operand type for unary -: '" + v.type_name() + "'");
  }

  // `and` / `or` short-circuit and return an operand, as in Python; the rest go to binary_op.
  Value eval_binary(const Expr& e) {
    if (e.name == "and") {
      Value a = eval(*e.args[0]);
      return a.truthy() ? eval(*e.args[1]) : a;
    }
    if (e.name == "or") {
      Value a = eval(*e.args[0]);
      return a.truthy() ? a : eval(*e.args[1]);
    }
    return binary_op(e.name, eval(*e.args[0]), eval(*e.args[1]), e.line);
  }

  std::vector<std::pair<std::string, Value>> eval_kwargs(const Expr& e) {
    std::vector<std::pair<std::string, Value>> kw;
    for (const auto& [k, v] : e.kwargs) kw.emplace_back(k, eval(*v));
    return kw;
  }

  Value eval_call(const Expr& e) {
    const Expr& callee = *e.args[0];
    std::vector<Value> args;
    for (size_t k = 1; k < e.args.size(); ++k) args.push_back(eval(*e.args[k]));
    auto kwargs = eval_kwargs(e);
    if (callee.kind == Expr::Kind::kAttr) {  // method call: obj.method(...)
      Value obj = eval(*callee.args[0]);
      if (obj.kind != Value::Kind::kNamespace && !(obj.is_mapping() && obj.find(callee.name) && obj.find(callee.name)->kind == Value::Kind::kMacro))
        return call_method(obj, callee.name, std::move(args), kwargs, e.line);
    }
    if (callee.kind == Expr::Kind::kName && lookup(callee.name).is_undefined())
      return call_global(*this, callee.name, std::move(args), std::move(kwargs), e.line);
    return call(eval(callee), std::move(args), std::move(kwargs), e.line);
  }

  Value get_attr(const Value& obj, const std::string& name, const Expr& e) {
    if (obj.is_undefined()) throw RenderError(e.line, "'" + describe(*e.args[0]) + "' is undefined (so has no attribute '" + name + "')");
    if (const Value* v = obj.find(name)) return *v;
    return Value();
  }

  Value get_item(const Value& obj, const Value& key, const Expr& e) {
    if (obj.is_undefined()) throw RenderError(e.line, "'" + describe(*e.args[0]) + "' is undefined");
    if (obj.is_mapping()) {
      const Value* v = obj.find(key.to_str());
      return v ? *v : Value();
    }
    if (key.kind != Value::Kind::kInt && key.kind != Value::Kind::kBool) return Value();
    return index_sequence(obj, key.kind == Value::Kind::kBool ? key.b : key.i, e.line);
  }

  static std::string describe(const Expr& e) {
    if (e.kind == Expr::Kind::kName) return e.name;
    if (e.kind == Expr::Kind::kAttr) return describe(*e.args[0]) + "." + e.name;
    return "value";
  }

  RenderLimits limits_;
  std::vector<std::unordered_map<std::string, Value>> scopes_;
  int64_t steps_ = 0;
  int depth_ = 0;
  int eval_nesting_ = 0;  // eval() calls in progress
};

}  // namespace

Result<std::string> render(const Body& body, const Value& context, const RenderLimits& limits) {
  try {
    Interpreter in(context, limits);
    return in.run(body);
  } catch (const RenderError& e) {
    return Status::error(e.what());
  } catch (const BreakSignal&) {
    return Status::error("template: {% break %} outside a loop");
  } catch (const ContinueSignal&) {
    return Status::error("template: {% continue %} outside a loop");
  }
}

}  // namespace dseek::jinja
