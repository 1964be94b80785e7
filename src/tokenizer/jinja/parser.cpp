// See parser.h. Two stages: split the source into text and tags (applying the
// whitespace rules), then parse the statements, each tag's expressions with
// the recursive-descent parser of expr_parser.h.
#include "tokenizer/jinja/parser.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <set>

#include "tokenizer/jinja/expr_parser.h"

namespace dseek::jinja {
namespace {

using syntax::ExprParser;
using syntax::is_ws;
using syntax::kMaxDepth;
using syntax::lex_expr;
using syntax::Tok;

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

// Where the next tag ({{, {% or {#) opens at or after `pos`; npos if none.
size_t find_tag_open(std::string_view src, size_t pos) {
  for (size_t i = pos; i + 1 < src.size(); ++i)
    if (src[i] == '{' && (src[i + 1] == '{' || src[i + 1] == '%' || src[i + 1] == '#')) return i;
  return std::string_view::npos;
}

// Whitespace after the previous tag: `-` strips it all; trim_blocks drops one newline.
void strip_after_tag(std::string& text, bool strip_next, bool trim_next) {
  if (strip_next) {
    size_t k = 0;
    while (k < text.size() && is_ws(text[k])) ++k;
    text.erase(0, k);
  } else if (trim_next && !text.empty() && text[0] == '\n') {
    text.erase(0, 1);
  } else if (trim_next && text.size() >= 2 && text[0] == '\r' && text[1] == '\n') {
    text.erase(0, 2);
  }
}

// Whitespace before the tag: `-` strips it all; lstrip_blocks strips a block or
// comment tag's indentation when only spaces/tabs stand between it and the line start.
void strip_before_tag(std::string& text, char type, bool minus_before, bool plus_before, bool line_starting) {
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
}

Status split(std::string_view src, std::vector<Piece>& out) {
  size_t pos = 0;
  int line = 1;
  bool strip_next = false, trim_next = false, line_starting = true;
  auto count_lines = [&](std::string_view t) {
    for (char c : t) line += c == '\n';
  };
  while (pos <= src.size()) {
    const size_t open = find_tag_open(src, pos);
    std::string text(src.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos));
    const int text_line = line;
    count_lines(text);
    strip_after_tag(text, strip_next, trim_next);
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
    strip_before_tag(text, type, minus_before, plus_before, line_starting);
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
    Status st;
    if (kw == "if") st = if_statement(*n, p, depth);
    else if (kw == "for") st = for_statement(*n, p, depth);
    else if (kw == "set") st = set_statement(*n, p, line);
    else if (kw == "macro") st = macro_statement(*n, p, depth);
    else if (kw == "break" || kw == "continue") {
      n->kind = kw == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      p.expect_end();
      st = p.status();
    } else {
      return err(line, "unknown or misplaced tag '{% " + kw + " %}'");
    }
    if (!st.ok()) return st;
    body.push_back(std::move(n));
    return ok_status();
  }

  // {% if %} ... {% elif %} ... {% else %} ... {% endif %}
  Status if_statement(Node& n, ExprParser& p, int depth) {
    n.kind = Node::Kind::kIf;
    std::string stop;
    ExprPtr cond = p.expr();
    p.expect_end();
    if (!p.status().ok()) return p.status();
    for (;;) {
      Body b;
      Status st = block(b, {"elif", "else", "endif"}, &stop, depth + 1);
      if (!st.ok()) return st;
      n.branches.emplace_back(std::move(cond), std::move(b));
      if (stop == "endif") break;
      if (stop == "else") {
        Body eb;
        st = block(eb, {"endif"}, &stop, depth + 1);
        if (!st.ok()) return st;
        n.branches.emplace_back(nullptr, std::move(eb));
        break;
      }
      cond = cur_->expr();  // elif
      cur_->expect_end();
      if (!cur_->status().ok()) return cur_->status();
    }
    return ok_status();
  }

  // {% for a, b in xs if cond recursive %} ... {% else %} ... {% endfor %}
  Status for_statement(Node& n, ExprParser& p, int depth) {
    n.kind = Node::Kind::kFor;
    std::string stop;
    do n.targets.push_back(p.take_name());
    while (p.accept_op(","));
    if (!p.accept_name("in")) p.fail("expected 'in' in for loop");
    n.expr = p.expr_without_condition();
    if (p.accept_name("if")) n.filter = p.expr();
    p.accept_name("recursive");
    p.expect_end();
    if (!p.status().ok()) return p.status();
    Status st = block(n.body, {"else", "endfor"}, &stop, depth + 1);
    if (!st.ok()) return st;
    if (stop == "else") return block(n.else_body, {"endfor"}, &stop, depth + 1);
    return ok_status();
  }

  // {% set x = ... %} or {% set ns.x = ... %}
  Status set_statement(Node& n, ExprParser& p, int line) {
    n.kind = Node::Kind::kSet;
    n.targets.push_back(p.take_name());
    if (p.accept_op(".")) n.targets.push_back(p.take_name());
    if (!p.accept_op("=")) return err(line, "block {% set %} ... {% endset %} is not supported; use {% set x = ... %}");
    n.expr = p.tuple_or_expr();
    p.expect_end();
    return p.status();
  }

  // {% macro name(a, b=default) %} ... {% endmacro %}
  Status macro_statement(Node& n, ExprParser& p, int depth) {
    n.kind = Node::Kind::kMacro;
    std::string stop;
    n.name = p.take_name();
    p.expect_op("(");
    if (!p.accept_op(")")) {
      do {
        std::string param = p.take_name();
        ExprPtr def = p.accept_op("=") ? p.expr() : nullptr;
        n.params.emplace_back(param, std::move(def));
      } while (p.accept_op(",") && p.status().ok());
      p.expect_op(")");
    }
    p.expect_end();
    if (!p.status().ok()) return p.status();
    return block(n.body, {"endmacro"}, &stop, depth + 1);
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
