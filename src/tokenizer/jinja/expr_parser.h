// The expression half of the template parser: the lexer of a tag's contents
// and a recursive-descent parser following jinja2's operator precedence
// (ternary < or < and < not < comparisons < + - < ~ < * / // % < ** < unary
// < postfix: calls, attributes, subscripts, filters, tests). parser.cpp
// splits the template into tags and parses the statements around them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"

namespace dseek::jinja::syntax {

inline constexpr int kMaxDepth = 200;  // nesting of expressions and blocks

inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

struct Tok {
  enum class Kind { kName, kInt, kFloat, kString, kOp, kEnd } kind;
  std::string text;
  int64_t i = 0;
  double f = 0;
};

// A tag's contents -> tokens, ending with one kEnd token.
Status lex_expr(const std::string& s, int line, std::vector<Tok>& out);

// Parses one tag's tokens; the first error is kept in status() and stops consumption.
class ExprParser {
 public:
  ExprParser(std::vector<Tok> toks, int line) : t_(std::move(toks)), line_(line) {}

  Status status() const { return st_; }
  bool at_end() const { return t_[p_].kind == Tok::Kind::kEnd; }
  bool peek_name(const char* n) const { return t_[p_].kind == Tok::Kind::kName && t_[p_].text == n; }
  bool peek_op(const char* o) const { return t_[p_].kind == Tok::Kind::kOp && t_[p_].text == o; }
  bool accept_name(const char* n) { return peek_name(n) ? (++p_, true) : false; }
  bool accept_op(const char* o) { return peek_op(o) ? (++p_, true) : false; }
  std::string take_name();
  void expect_op(const char* o);
  void expect_end();
  void fail(const std::string& m);

  ExprPtr expr() { return ternary(); }
  ExprPtr expr_without_condition() { return or_expr(); }  // `for x in y if c`: the if is a filter

  // A comma-separated expression: a tuple (list) if there is a comma.
  ExprPtr tuple_or_expr();

 private:
  ExprPtr node(Expr::Kind k);
  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b);
  struct DepthGuard {
    ExprParser& p;
    explicit DepthGuard(ExprParser& q) : p(q) {
      if (++p.depth_ > kMaxDepth) p.fail("expression nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  ExprPtr ternary();
  ExprPtr or_expr();
  ExprPtr and_expr();
  ExprPtr not_expr();
  ExprPtr compare();
  ExprPtr math1();
  ExprPtr concat();
  ExprPtr math2();
  ExprPtr power();
  ExprPtr unary();
  void call_args(Expr& e);
  ExprPtr postfix(ExprPtr a);
  ExprPtr subscript(ExprPtr a);
  ExprPtr filters(ExprPtr a);
  ExprPtr primary();

  std::vector<Tok> t_;
  size_t p_ = 0;
  int line_;
  int depth_ = 0;
  Status st_;
};

}  // namespace dseek::jinja::syntax
