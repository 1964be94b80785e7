// See parser.h. Two stages: split the source into text and tags (applying the
// whitespace rules), then parse each tag's contents with a small recursive-
// descent expression parser following jinja2's operator precedence.
#include "tokenizer/jinja/parser.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <set>

namespace dseek::jinja {
namespace {

constexpr int kMaxDepth = 200;  // nesting of expressions and blocks

struct Piece {
  enum class Kind { kText, kVar, kBlock } kind;
  std::string text;  // text, or the tag's inner source
  int line;
};

// Finds the end marker of a tag starting at `from`, skipping string literals.
size_t find_tag_end(std::string_view s, size_t from, std::string_view end) {
  char quote = 0;
  for (size_t i = from; i + end.size() <= s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (s.compare(i, end.size(), end) == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

Status split(std::string_view src, std::vector<Piece>& out) {
  size_t pos = 0;
  int line = 1;
  bool strip_next = false, trim_next = false, line_starting = true;
  auto count_lines = [&](std::string_view t) {
    for (char c : t) line += c == '\n';
  };
  while (pos <= src.size()) {
    size_t open = std::string_view::npos;
    for (size_t i = pos; i + 1 < src.size(); ++i)
      if (src[i] == '{' && (src[i + 1] == '{' || src[i + 1] == '%' || src[i + 1] == '#')) {
        open = i;
        break;
      }
    std::string text(src.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos));
    const int text_line = line;
    count_lines(text);
    if (strip_next) {
      size_t k = 0;
      while (k < text.size() && is_ws(text[k])) ++k;
      text.erase(0, k);
    } else if (trim_next && !text.empty() && text[0] == '\n') {
      text.erase(0, 1);
    } else if (trim_next && text.size() >= 2 && text[0] == '\r' && text[1] == '\n') {
      text.erase(0, 2);
    }
    if (open == std::string_view::npos) {
      if (!text.empty()) out.push_back({Piece::Kind::kText, text, text_line});
      return ok_status();
    }
    const char type = src[open + 1];
    const std::string_view close = type == '{' ? "}}" : type == '%' ? "%}" : "#}";
    size_t inner = open + 2;
    const bool minus_before = inner < src.size() && src[inner] == '-';
    const bool plus_before = inner < src.size() && src[inner] == '+';
    if (minus_before || plus_before) ++inner;
    const size_t end = type == '#' ? src.find(close, inner) : find_tag_end(src, inner, close);
    if (end == std::string_view::npos)
      return Status::error("template line " + std::to_string(line) + ": unclosed '" + std::string(src.substr(open, 2)) + "'");
    const bool minus_after = end > inner && src[end - 1] == '-';
    std::string body(src.substr(inner, end - inner - (minus_after ? 1 : 0)));
    // Whitespace before the tag: `-` strips it all; lstrip_blocks strips a block or
    // comment tag's indentation when only spaces/tabs stand between it and the line start.
    if (minus_before) {
      while (!text.empty() && is_ws(text.back())) text.pop_back();
    } else if (type != '{' && !plus_before) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting) {
        bool only_space = true;
        for (size_t k = l_pos; k < text.size() && only_space; ++k) only_space = text[k] == ' ' || text[k] == '\t';
        if (only_space) text.erase(l_pos);
      }
    }
    if (!text.empty()) out.push_back({Piece::Kind::kText, text, text_line});
    const int tag_line = line;
    count_lines(src.substr(open, end + 2 - open));
    if (type != '#') out.push_back({type == '{' ? Piece::Kind::kVar : Piece::Kind::kBlock, body, tag_line});
    strip_next = minus_after;
    trim_next = type != '{';  // trim_blocks: the newline after a block or comment tag
    pos = end + 2;
    // Is the next text at a line start? (the tag consumed the newline after it)
    line_starting = trim_next && pos < src.size() && src[pos] == '\n';
  }
  return ok_status();
}

// ---- expression tokens ----
struct Tok {
  enum class Kind { kName, kInt, kFloat, kString, kOp, kEnd } kind;
  std::string text;
  int64_t i = 0;
  double f = 0;
};

Status lex_expr(const std::string& s, int line, std::vector<Tok>& out) {
  size_t p = 0;
  auto err = [&](const std::string& m) { return Status::error("template line " + std::to_string(line) + ": " + m); };
  while (p < s.size()) {
    const char c = s[p];
    if (is_ws(c)) { ++p; continue; }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t q = p;
      while (q < s.size() && (std::isalnum(static_cast<unsigned char>(s[q])) || s[q] == '_')) ++q;
      out.push_back({Tok::Kind::kName, s.substr(p, q - p)});
      p = q;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
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
        if (errno == ERANGE) return err("integer literal " + num + " is out of the 64-bit range");
      }
      out.push_back(t);
      p = q;
    } else if (c == '\'' || c == '"') {
      std::string v;
      size_t q = p + 1;
      for (; q < s.size() && s[q] != c; ++q) {
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
      if (q >= s.size()) return err("unterminated string literal");
      out.push_back({Tok::Kind::kString, v});
      p = q + 1;
    } else {
      static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ".", ",", ":",
                                   "|", "~", "+", "-", "*", "/", "%", "<", ">", "="};
      bool found = false;
      for (const char* op : kOps) {
        const size_t n = std::char_traits<char>::length(op);
        if (s.compare(p, n, op) == 0) {
          out.push_back({Tok::Kind::kOp, op});
          p += n;
          found = true;
          break;
        }
      }
      if (!found) return err(std::string("unexpected character '") + c + "'");
    }
  }
  out.push_back({Tok::Kind::kEnd, ""});
  return ok_status();
}

class ExprParser {
 public:
  ExprParser(std::vector<Tok> toks, int line) : t_(std::move(toks)), line_(line) {}

  Status status() const { return st_; }
  bool at_end() const { return t_[p_].kind == Tok::Kind::kEnd; }
  bool peek_name(const char* n) const { return t_[p_].kind == Tok::Kind::kName && t_[p_].text == n; }
  bool peek_op(const char* o) const { return t_[p_].kind == Tok::Kind::kOp && t_[p_].text == o; }
  bool accept_name(const char* n) { return peek_name(n) ? (++p_, true) : false; }
  bool accept_op(const char* o) { return peek_op(o) ? (++p_, true) : false; }
  std::string take_name() {
    if (t_[p_].kind != Tok::Kind::kName) {
      fail("expected a name, found '" + t_[p_].text + "'");
      return "";
    }
    return t_[p_++].text;
  }
  void expect_op(const char* o) {
    if (!accept_op(o)) fail(std::string("expected '") + o + "', found '" + t_[p_].text + "'");
  }
  void expect_end() {
    if (!at_end()) fail("unexpected '" + t_[p_].text + "'");
  }
  void fail(const std::string& m) {
    if (st_.ok()) st_ = Status::error("template line " + std::to_string(line_) + ": " + m);
    p_ = t_.size() - 1;  // stop consuming
  }

  ExprPtr expr() { return ternary(); }
  ExprPtr expr_without_condition() { return or_expr(); }  // `for x in y if c`: the if is a filter

  // A comma-separated expression: a tuple (list) if there is a comma.
  ExprPtr tuple_or_expr() {
    ExprPtr first = expr();
    if (!peek_op(",")) return first;
    auto t = node(Expr::Kind::kTuple);
    t->args.push_back(std::move(first));
    while (accept_op(",") && !at_end()) t->args.push_back(expr());
    return t;
  }

 private:
  ExprPtr node(Expr::Kind k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line_;
    return e;
  }
  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b) {
    auto e = node(Expr::Kind::kBinary);
    e->name = op;
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }
  struct DepthGuard {
    ExprParser& p;
    explicit DepthGuard(ExprParser& q) : p(q) {
      if (++p.depth_ > kMaxDepth) p.fail("expression nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  ExprPtr ternary() {
    DepthGuard g(*this);
    ExprPtr a = or_expr();
    if (!accept_name("if")) return a;
    auto e = node(Expr::Kind::kTernary);
    e->args.push_back(or_expr());  // condition
    e->args.push_back(std::move(a));
    if (accept_name("else")) e->args.push_back(ternary());
    return e;
  }
  ExprPtr or_expr() {
    ExprPtr a = and_expr();
    while (accept_name("or")) a = binary("or", std::move(a), and_expr());
    return a;
  }
  ExprPtr and_expr() {
    ExprPtr a = not_expr();
    while (accept_name("and")) a = binary("and", std::move(a), not_expr());
    return a;
  }
  ExprPtr not_expr() {
    DepthGuard g(*this);
    if (accept_name("not")) {
      auto e = node(Expr::Kind::kNot);
      e->args.push_back(not_expr());
      return e;
    }
    return compare();
  }
  ExprPtr compare() {
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
  ExprPtr math1() {
    ExprPtr a = concat();
    for (;;) {
      if (accept_op("+")) a = binary("+", std::move(a), concat());
      else if (accept_op("-")) a = binary("-", std::move(a), concat());
      else return a;
    }
  }
  ExprPtr concat() {
    ExprPtr a = math2();
    while (accept_op("~")) a = binary("~", std::move(a), math2());
    return a;
  }
  ExprPtr math2() {
    ExprPtr a = power();
    for (;;) {
      if (accept_op("*")) a = binary("*", std::move(a), power());
      else if (accept_op("//")) a = binary("//", std::move(a), power());
      else if (accept_op("/")) a = binary("/", std::move(a), power());
      else if (accept_op("%")) a = binary("%", std::move(a), power());
      else return a;
    }
  }
  ExprPtr power() {
    ExprPtr a = unary();
    while (accept_op("**")) a = binary("**", std::move(a), unary());
    return a;
  }
  ExprPtr unary() {
    DepthGuard g(*this);
    if (accept_op("-")) {
      auto e = node(Expr::Kind::kNeg);
      e->args.push_back(unary());
      return e;
    }
    if (accept_op("+")) return unary();
    return filters(postfix(primary()));
  }
  void call_args(Expr& e) {
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
  ExprPtr postfix(ExprPtr a) {
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
  ExprPtr subscript(ExprPtr a) {
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
  ExprPtr filters(ExprPtr a) {
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
  ExprPtr primary() {
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

  std::vector<Tok> t_;
  size_t p_ = 0;
  int line_;
  int depth_ = 0;
  Status st_;
};

class StmtParser {
 public:
  explicit StmtParser(std::vector<Piece> pieces) : pieces_(std::move(pieces)) {}

  Result<Body> parse() {
    Body body;
    std::string stop;
    Status st = block(body, {}, &stop);
    if (!st.ok()) return st;
    return body;
  }

 private:
  Status err(int line, const std::string& m) { return Status::error("template line " + std::to_string(line) + ": " + m); }

  // Parses nodes until a block tag whose keyword is in `stops` (returned in *stop).
  Status block(Body& body, const std::set<std::string>& stops, std::string* stop, int depth = 0) {
    if (depth > kMaxDepth) return Status::error("template: blocks nested too deeply");
    while (i_ < pieces_.size()) {
      const Piece& pc = pieces_[i_++];
      if (pc.kind == Piece::Kind::kText) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kText;
        n->text = pc.text;
        body.push_back(std::move(n));
        continue;
      }
      std::vector<Tok> toks;
      Status st = lex_expr(pc.text, pc.line, toks);
      if (!st.ok()) return st;
      ExprParser p(std::move(toks), pc.line);
      if (pc.kind == Piece::Kind::kVar) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kOutput;
        n->line = pc.line;
        n->expr = p.expr();
        p.expect_end();
        if (!p.status().ok()) return p.status();
        body.push_back(std::move(n));
        continue;
      }
      const std::string kw = p.take_name();
      if (!p.status().ok()) return err(pc.line, "a block tag needs a keyword");
      if (stops.count(kw)) {
        *stop = kw;
        cur_ = std::move(p);
        return ok_status();
      }
      st = statement(kw, p, pc.line, body, depth);
      if (!st.ok()) return st;
    }
    if (!stops.empty()) {
      std::string closer = *stops.begin();
      for (const auto& k : stops)
        if (k.rfind("end", 0) == 0) closer = k;
      return Status::error("template: missing {% " + closer + " %} (a block is still open at the end of the template)");
    }
    return ok_status();
  }

  Status statement(const std::string& kw, ExprParser& p, int line, Body& body, int depth) {
    auto n = std::make_unique<Node>();
    n->line = line;
    std::string stop;
    if (kw == "if") {
      n->kind = Node::Kind::kIf;
      ExprPtr cond = p.expr();
      p.expect_end();
      if (!p.status().ok()) return p.status();
      for (;;) {
        Body b;
        Status st = block(b, {"elif", "else", "endif"}, &stop, depth + 1);
        if (!st.ok()) return st;
        n->branches.emplace_back(std::move(cond), std::move(b));
        if (stop == "endif") break;
        if (stop == "else") {
          Body eb;
          st = block(eb, {"endif"}, &stop, depth + 1);
          if (!st.ok()) return st;
          n->branches.emplace_back(nullptr, std::move(eb));
          break;
        }
        cond = cur_->expr();  // elif
        cur_->expect_end();
        if (!cur_->status().ok()) return cur_->status();
      }
    } else if (kw == "for") {
      n->kind = Node::Kind::kFor;
      do n->targets.push_back(p.take_name());
      while (p.accept_op(","));
      if (!p.accept_name("in")) p.fail("expected 'in' in for loop");
      n->expr = p.expr_without_condition();
      if (p.accept_name("if")) n->filter = p.expr();
      p.accept_name("recursive");
      p.expect_end();
      if (!p.status().ok()) return p.status();
      Status st = block(n->body, {"else", "endfor"}, &stop, depth + 1);
      if (!st.ok()) return st;
      if (stop == "else") {
        st = block(n->else_body, {"endfor"}, &stop, depth + 1);
        if (!st.ok()) return st;
      }
    } else if (kw == "set") {
      n->kind = Node::Kind::kSet;
      n->targets.push_back(p.take_name());
      if (p.accept_op(".")) n->targets.push_back(p.take_name());
      if (!p.accept_op("=")) return err(line, "block {% set %} ... {% endset %} is not supported; use {% set x = ... %}");
      n->expr = p.tuple_or_expr();
      p.expect_end();
      if (!p.status().ok()) return p.status();
    } else if (kw == "macro") {
      n->kind = Node::Kind::kMacro;
      n->name = p.take_name();
      p.expect_op("(");
      if (!p.accept_op(")")) {
        do {
          std::string param = p.take_name();
          ExprPtr def = p.accept_op("=") ? p.expr() : nullptr;
          n->params.emplace_back(param, std::move(def));
        } while (p.accept_op(",") && p.status().ok());
        p.expect_op(")");
      }
      p.expect_end();
      if (!p.status().ok()) return p.status();
      Status st = block(n->body, {"endmacro"}, &stop, depth + 1);
      if (!st.ok()) return st;
    } else if (kw == "break" || kw == "continue") {
      n->kind = kw == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      p.expect_end();
      if (!p.status().ok()) return p.status();
    } else {
      return err(line, "unknown or misplaced tag '{% " + kw + " %}'");
    }
    body.push_back(std::move(n));
    return ok_status();
  }

  std::vector<Piece> pieces_;
  size_t i_ = 0;
  std::optional<ExprParser> cur_;  // the parser of the tag that ended the last block
};

}  // namespace

Result<Body> parse_template(std::string_view source) {
  std::vector<Piece> pieces;
  Status st = split(source, pieces);
  if (!st.ok()) return st;
  return StmtParser(std::move(pieces)).parse();
}

}  // namespace dseek::jinja
