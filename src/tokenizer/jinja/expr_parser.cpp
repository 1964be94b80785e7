// See expr_parser.h.
#include "tokenizer/jinja/expr_parser.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace dseek::jinja::syntax {

namespace {

// Each step below reads one token starting at s[p] into `out` and moves p past
// it. It returns an error message, or "" when the token was read.

std::string lex_number(const std::string& s, size_t& p, std::vector<Tok>& out) {
  size_t q = p;
  bool is_float = false;
  while (q < s.size() && (std::isdigit(static_cast<unsigned char>(s[q])) || s[q] == '_')) ++q;
  if (q + 1 < s.size() && s[q] == '.' && std::isdigit(static_cast<unsigned char>(s[q + 1]))) {
    is_float = true;
    ++q;
    while (q < s.size() && std::isdigit(static_cast<unsigned char>(s[q]))) ++q;
  }
  if (q < s.size() && (s[q] == 'e' || s[q] == 'E')) {
    size_t r = q + 1;
    if (r < s.size() && (s[r] == '+' || s[r] == '-')) ++r;
    if (r < s.size() && std::isdigit(static_cast<unsigned char>(s[r]))) {
      is_float = true;
      q = r;
      while (q < s.size() && std::isdigit(static_cast<unsigned char>(s[q]))) ++q;
    }
  }
  std::string num;
  for (size_t k = p; k < q; ++k)
    if (s[k] != '_') num += s[k];
  Tok t{is_float ? Tok::Kind::kFloat : Tok::Kind::kInt, num};
  if (is_float) t.f = std::strtod(num.c_str(), nullptr);
  else {
    errno = 0;
    t.i = std::strtoll(num.c_str(), nullptr, 10);
    // Python integers are unbounded; ours are 64-bit, so a larger literal is an error, not a silent clamp.
    if (errno == ERANGE) return "integer literal " + num + " is out of the 64-bit range";
  }
  out.push_back(t);
  p = q;
  return {};
}

std::string lex_string(const std::string& s, size_t& p, std::vector<Tok>& out) {
  const char quote = s[p];
  std::string v;
  size_t q = p + 1;
  for (; q < s.size() && s[q] != quote; ++q) {
    if (s[q] != '\\' || q + 1 >= s.size()) {
      v += s[q];
      continue;
    }
    const char e = s[++q];
    switch (e) {
      case 'n': v += '\n'; break;
      case 't': v += '\t'; break;
      case 'r': v += '\r'; break;
      case '\\': v += '\\'; break;
      case '\'': v += '\''; break;
      case '"': v += '"'; break;
      case '0': v += '\0'; break;
      default: v += '\\'; v += e; break;  // Python keeps unknown escapes
    }
  }
  if (q >= s.size()) return "unterminated string literal";
  out.push_back({Tok::Kind::kString, v});
  p = q + 1;
  return {};
}

std::string lex_operator(const std::string& s, size_t& p, std::vector<Tok>& out) {
  static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ".", ",", ":",
                               "|", "~", "+", "-", "*", "/", "%", "<", ">", "="};
  for (const char* op : kOps) {
    const size_t n = std::char_traits<char>::length(op);
    if (s.compare(p, n, op) == 0) {
      out.push_back({Tok::Kind::kOp, op});
      p += n;
      return {};
    }
  }
  return std::string("unexpected character '") + s[p] + "'";
}

}  // namespace

Status lex_expr(const std::string& s, int line, std::vector<Tok>& out) {
  size_t p = 0;
  while (p < s.size()) {
    const char c = s[p];
    if (is_ws(c)) {
      ++p;
      continue;
    }
    std::string error;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t q = p;
      while (q < s.size() && (std::isalnum(static_cast<unsigned char>(s[q])) || s[q] == '_')) ++q;
      out.push_back({Tok::Kind::kName, s.substr(p, q - p)});
      p = q;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      error = lex_number(s, p, out);
    } else if (c == '\'' || c == '"') {
      error = lex_string(s, p, out);
    } else {
      error = lex_operator(s, p, out);
    }
    if (!error.empty()) return Status::error("template line " + std::to_string(line) + ": " + error);
  }
  out.push_back({Tok::Kind::kEnd, ""});
  return ok_status();
}

std::string ExprParser::take_name() {
  if (t_[p_].kind != Tok::Kind::kName) {
    fail("expected a name, found '" + t_[p_].text + "'");
    return "";
  }
  return t_[p_++].text;
}

void ExprParser::expect_op(const char* o) {
  if (!accept_op(o)) fail(std::string("expected '") + o + "', found '" + t_[p_].text + "'");
}

void ExprParser::expect_end() {
  if (!at_end()) fail("unexpected '" + t_[p_].text + "'");
}

void ExprParser::fail(const std::string& m) {
  if (st_.ok()) st_ = Status::error("template line " + std::to_string(line_) + ": " + m);
  p_ = t_.size() - 1;  // stop consuming
}

ExprPtr ExprParser::tuple_or_expr() {
  ExprPtr first = expr();
  if (!peek_op(",")) return first;
  auto t = node(Expr::Kind::kTuple);
  t->args.push_back(std::move(first));
  while (accept_op(",") && !at_end()) t->args.push_back(expr());
  return t;
}

ExprPtr ExprParser::node(Expr::Kind k) {
  auto e = std::make_unique<Expr>();
  e->kind = k;
  e->line = line_;
  return e;
}

ExprPtr ExprParser::binary(const std::string& op, ExprPtr a, ExprPtr b) {
  auto e = node(Expr::Kind::kBinary);
  e->name = op;
  e->args.push_back(std::move(a));
  e->args.push_back(std::move(b));
  return e;
}

ExprPtr ExprParser::ternary() {
  DepthGuard g(*this);
  ExprPtr a = or_expr();
  if (!accept_name("if")) return a;
  auto e = node(Expr::Kind::kTernary);
  e->args.push_back(or_expr());  // condition
  e->args.push_back(std::move(a));
  if (accept_name("else")) e->args.push_back(ternary());
  return e;
}

ExprPtr ExprParser::or_expr() {
  ExprPtr a = and_expr();
  while (accept_name("or")) a = binary("or", std::move(a), and_expr());
  return a;
}

ExprPtr ExprParser::and_expr() {
  ExprPtr a = not_expr();
  while (accept_name("and")) a = binary("and", std::move(a), not_expr());
  return a;
}

ExprPtr ExprParser::not_expr() {
  DepthGuard g(*this);
  if (accept_name("not")) {
    auto e = node(Expr::Kind::kNot);
    e->args.push_back(not_expr());
    return e;
  }
  return compare();
}

ExprPtr ExprParser::compare() {
  ExprPtr a = math1();
  for (;;) {
    static const char* kCmp[] = {"==", "!=", "<=", ">=", "<", ">"};
    bool matched = false;
    for (const char* op : kCmp)
      if (accept_op(op)) {
        a = binary(op, std::move(a), math1());
        matched = true;
        break;
      }
    if (matched) continue;
    if (accept_name("in")) {
      a = binary("in", std::move(a), math1());
    } else if (peek_name("not") && t_[p_ + 1].kind == Tok::Kind::kName && t_[p_ + 1].text == "in") {
      p_ += 2;
      a = binary("not in", std::move(a), math1());
    } else {
      return a;
    }
  }
}

ExprPtr ExprParser::math1() {
  ExprPtr a = concat();
  for (;;) {
    if (accept_op("+")) a = binary("+", std::move(a), concat());
    else if (accept_op("-")) a = binary("-", std::move(a), concat());
    else return a;
  }
}

ExprPtr ExprParser::concat() {
  ExprPtr a = math2();
  while (accept_op("~")) a = binary("~", std::move(a), math2());
  return a;
}

ExprPtr ExprParser::math2() {
  ExprPtr a = power();
  for (;;) {
    if (accept_op("*")) a = binary("*", std::move(a), power());
    else if (accept_op("//")) a = binary("//", std::move(a), power());
    else if (accept_op("/")) a = binary("/", std::move(a), power());
    else if (accept_op("%")) a = binary("%", std::move(a), power());
    else return a;
  }
}

ExprPtr ExprParser::power() {
  ExprPtr a = unary();
  while (accept_op("**")) a = binary("**", std::move(a), unary());
  return a;
}

ExprPtr ExprParser::unary() {
  DepthGuard g(*this);
  if (accept_op("-")) {
    auto e = node(Expr::Kind::kNeg);
    e->args.push_back(unary());
    return e;
  }
  if (accept_op("+")) return unary();
  return filters(postfix(primary()));
}

void ExprParser::call_args(Expr& e) {
  // after '('
  if (accept_op(")")) return;
  do {
    if (t_[p_].kind == Tok::Kind::kName && t_[p_ + 1].kind == Tok::Kind::kOp && t_[p_ + 1].text == "=") {
      std::string k = t_[p_].text;
      p_ += 2;
      e.kwargs.emplace_back(k, expr());
    } else {
      e.args.push_back(expr());
    }
  } while (accept_op(",") && !peek_op(")"));
  expect_op(")");
}

ExprPtr ExprParser::postfix(ExprPtr a) {
  for (;;) {
    if (accept_op(".")) {
      auto e = node(Expr::Kind::kAttr);
      if (t_[p_].kind == Tok::Kind::kInt) {  // x.0 is x[0]
        auto idx = node(Expr::Kind::kLiteral);
        idx->literal = Value::integer(t_[p_++].i);
        e->kind = Expr::Kind::kItem;
        e->args.push_back(std::move(a));
        e->args.push_back(std::move(idx));
      } else {
        e->name = take_name();
        e->args.push_back(std::move(a));
      }
      a = std::move(e);
    } else if (accept_op("[")) {
      a = subscript(std::move(a));
    } else if (accept_op("(")) {
      auto e = node(Expr::Kind::kCall);
      e->args.push_back(std::move(a));
      call_args(*e);
      a = std::move(e);
    } else {
      return a;
    }
  }
}

ExprPtr ExprParser::subscript(ExprPtr a) {
  // after '[': index or slice [start:stop:step]
  ExprPtr parts[3];
  int colons = 0;
  if (!peek_op(":")) parts[0] = expr();
  while (colons < 2 && accept_op(":")) {
    ++colons;
    if (!peek_op(":") && !peek_op("]")) parts[colons] = expr();
  }
  expect_op("]");
  auto e = node(colons ? Expr::Kind::kSlice : Expr::Kind::kItem);
  e->args.push_back(std::move(a));
  for (auto& p : parts) e->args.push_back(std::move(p));  // null parts are allowed in slices
  return e;
}

ExprPtr ExprParser::filters(ExprPtr a) {
  for (;;) {
    if (accept_op("|")) {
      auto e = node(Expr::Kind::kFilter);
      e->name = take_name();
      e->args.push_back(std::move(a));
      if (accept_op("(")) call_args(*e);
      a = std::move(e);
    } else if (accept_name("is")) {
      auto e = node(Expr::Kind::kTest);
      e->negated = accept_name("not");
      e->name = take_name();
      e->args.push_back(std::move(a));
      if (accept_op("(")) call_args(*e);
      else if (t_[p_].kind == Tok::Kind::kInt || t_[p_].kind == Tok::Kind::kFloat || t_[p_].kind == Tok::Kind::kString)
        e->args.push_back(primary());
      a = std::move(e);
    } else {
      return a;
    }
  }
}

ExprPtr ExprParser::primary() {
  DepthGuard g(*this);
  const Tok& t = t_[p_];
  auto lit = [&](Value v) {
    auto e = node(Expr::Kind::kLiteral);
    e->literal = std::move(v);
    return e;
  };
  switch (t.kind) {
    case Tok::Kind::kInt: ++p_; return lit(Value::integer(t.i));
    case Tok::Kind::kFloat: ++p_; return lit(Value::real(t.f));
    case Tok::Kind::kString: {
      std::string s;
      while (t_[p_].kind == Tok::Kind::kString) s += t_[p_++].text;  // adjacent literals concatenate
      return lit(Value::str(s));
    }
    case Tok::Kind::kName: {
      ++p_;
      if (t.text == "true" || t.text == "True") return lit(Value::boolean(true));
      if (t.text == "false" || t.text == "False") return lit(Value::boolean(false));
      if (t.text == "none" || t.text == "None") return lit(Value::none());
      auto e = node(Expr::Kind::kName);
      e->name = t.text;
      return e;
    }
    case Tok::Kind::kOp:
      if (accept_op("(")) {
        if (accept_op(")")) return node(Expr::Kind::kTuple);
        ExprPtr inner = tuple_or_expr();
        expect_op(")");
        return inner;
      }
      if (accept_op("[")) {
        auto e = node(Expr::Kind::kList);
        while (!peek_op("]") && !at_end()) {
          e->args.push_back(expr());
          if (!accept_op(",")) break;
        }
        expect_op("]");
        return e;
      }
      if (accept_op("{")) {
        auto e = node(Expr::Kind::kDict);
        while (!peek_op("}") && !at_end()) {
          e->dict_keys.push_back(expr());
          expect_op(":");
          e->args.push_back(expr());
          if (!accept_op(",")) break;
        }
        expect_op("}");
        return e;
      }
      break;
    case Tok::Kind::kEnd: break;
  }
  fail(t.kind == Tok::Kind::kEnd ? "unexpected end of expression" : "unexpected '" + t.text + "'");
  return lit(Value());
}

}  // namespace dseek::jinja::syntax
