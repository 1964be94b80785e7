// GrammarState: each thread is a pushdown automaton whose stack holds one
// frame per open construct (object, array, string, number, literal, markup
// sequence). Steps work in place; only anyOf forks copy a thread.
#include "runtime/json_schema_checker.h"
#include "runtime/json_bytes.h"

#include <algorithm>
#include <cstring>

namespace dseek {
namespace {

using json_bytes::hex_value;
using json_bytes::is_digit;
using json_bytes::is_space;
using json_bytes::kLiterals;

using Frame = GrammarState::Frame;
using Kind = Frame::Kind;

constexpr int kMaxBeginDepth = 16;  // anyOf / sequence nesting entered by one byte
constexpr int32_t kMaxFreeKey = 256;

enum ObjectPhase : uint8_t { kKeyOrClose, kKey, kInKey, kColon, kObjValue, kObjAfter };
enum ArrayPhase : uint8_t { kItemOrClose, kItem, kInItem, kArrAfter };
enum StringPhase : uint8_t { kChars, kEscape, kHex };
enum NumberPhase : uint8_t { kMinus, kZero, kInt, kDot, kFrac, kExp, kExpSign, kExpDigits };

uint64_t all_bits(size_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }

Frame frame(Kind k, int32_t node) {
  Frame f;
  f.kind = k;
  f.node = node;
  return f;
}

}  // namespace

GrammarState::GrammarState(const Grammar& g) : g_(&g) {
  Thread t;
  t.stack.push_back(frame(Kind::kValue, g.root));
  threads_.push_back(std::move(t));
}

bool GrammarState::feed(std::string_view bytes) {
  GrammarState next = *this;
  for (char c : bytes)
    if (!next.step(static_cast<uint8_t>(c))) return false;
  *this = std::move(next);
  return true;
}

bool GrammarState::accepts(std::string_view bytes) const {
  GrammarState next = *this;
  for (char c : bytes)
    if (!next.step(static_cast<uint8_t>(c))) return false;
  return true;
}

bool GrammarState::feed_control(std::string_view bytes) {
  GrammarState next = *this;
  next.control_ = true;
  for (char c : bytes)
    if (!next.step(static_cast<uint8_t>(c))) return false;
  next.control_ = false;
  *this = std::move(next);
  return true;
}

bool GrammarState::accepts_control(std::string_view bytes) const {
  GrammarState next = *this;
  return next.feed_control(bytes);
}

bool GrammarState::step(uint8_t c) {
  forks_.clear();
  size_t kept = 0;
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (!step_thread(threads_[i], c, forks_)) continue;
    if (kept != i) threads_[kept] = std::move(threads_[i]);
    ++kept;
  }
  threads_.resize(kept);
  for (Thread& f : forks_) {
    if (threads_.size() >= kMaxThreads) break;
    if (std::find(threads_.begin(), threads_.end(), f) == threads_.end()) threads_.push_back(std::move(f));
  }
  if (threads_.size() > 1)  // identical threads accept the same continuations: keep one
    for (size_t i = threads_.size(); i-- > 1;)
      if (std::find(threads_.begin(), threads_.begin() + static_cast<ptrdiff_t>(i), threads_[i]) != threads_.begin() + static_cast<ptrdiff_t>(i))
        threads_.erase(threads_.begin() + static_cast<ptrdiff_t>(i));
  return !threads_.empty();
}

bool GrammarState::complete() const {
  for (const Thread& t : threads_) {
    if (t.done) return true;
    if (!t.stack.empty() && may_end_at(t.stack.back())) return true;  // free text that may end the output
    if (t.stack.size() != 1 || t.stack[0].kind != Kind::kNumber) continue;
    const uint8_t p = t.stack[0].phase;
    if (p == kZero || p == kInt || p == kFrac || p == kExpDigits) return true;  // a root number ends anywhere it can
  }
  return false;
}

// Whether `node` may start with free text that ends the output (text_or_until, first in a sequence).
bool GrammarState::opens_with_free_text(int32_t node) const {
  const GrammarNode& n = g_->nodes[static_cast<size_t>(node)];
  if (n.kind == GrammarNode::Kind::kRawUntil) return n.may_end;
  return n.kind == GrammarNode::Kind::kSequence && !n.children.empty() && opens_with_free_text(n.children[0]);
}

bool GrammarState::may_end_at(const Frame& f) const {
  if (f.kind == Kind::kRaw) return g_->nodes[static_cast<size_t>(f.node)].may_end;
  if (f.kind == Kind::kValue) return opens_with_free_text(f.node);
  if (f.kind == Kind::kSequence) return opens_with_free_text(g_->nodes[static_cast<size_t>(f.node)].children[static_cast<size_t>(f.count)]);
  return false;
}

std::string GrammarState::key() const {
  std::string k;
  auto put = [&k](const auto& v) { k.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  for (const Thread& t : threads_) {
    put(t.space_run), put(t.done), put(static_cast<uint32_t>(t.stack.size()));
    for (const Frame& f : t.stack) {
      put(f.kind), put(f.phase), put(f.utf8_left), put(f.utf8_lo), put(f.utf8_hi);
      put(f.node), put(f.count), put(f.child), put(f.seen), put(f.cand);
    }
  }
  return k;
}

std::string_view GrammarState::literal_text(int32_t node) const {
  if (node < 0) return kLiterals[-node - 1];
  return g_->nodes[static_cast<size_t>(node)].text;
}

bool GrammarState::space(Thread& t) const {
  if (t.space_run >= kMaxSpaceRun) return false;
  ++t.space_run;
  return true;
}

bool GrammarState::push(Thread& t, Frame f) const {
  if (t.stack.size() >= static_cast<size_t>(kMaxDepth)) return false;
  t.stack.push_back(f);
  return true;
}

// Pops a finished construct and tells its parent.
void GrammarState::finish_top(Thread& t) const {
  t.stack.pop_back();
  if (t.stack.empty()) {
    t.done = true;
    return;
  }
  Frame& p = t.stack.back();
  if (p.kind == Kind::kObject) p.phase = kObjAfter;
  if (p.kind == Kind::kArray) ++p.count, p.phase = kArrAfter;
  // A sequence frame on top waits for its next child's first byte.
}

bool GrammarState::step_thread(Thread& t, uint8_t c, std::vector<Thread>& forks) const {
  if (!is_space(c)) t.space_run = 0;
  const auto& nodes = g_->nodes;
  if (t.done) return !control_ && nodes[static_cast<size_t>(g_->root)].is_json && is_space(c) && space(t);
  Frame& f = t.stack.back();
  const bool raw_literal = f.kind == Kind::kLiteral && f.node >= 0 && !nodes[static_cast<size_t>(f.node)].is_json;
  if (control_ && !raw_literal && f.kind != Kind::kSequence && f.kind != Kind::kValue && f.kind != Kind::kRaw) return false;
  switch (f.kind) {
    case Kind::kValue: {
      const int32_t node = f.node;
      if (is_space(c) && nodes[static_cast<size_t>(node)].is_json) return !control_ && space(t);
      t.stack.pop_back();
      return begin(t, node, c, forks, 0);
    }
    case Kind::kSequence: {
      const auto& kids = nodes[static_cast<size_t>(f.node)].children;
      const int32_t child = kids[static_cast<size_t>(f.count)];
      if (static_cast<size_t>(f.count) + 1 == kids.size()) t.stack.pop_back();  // the last child replaces the sequence
      else ++f.count;
      return begin(t, child, c, forks, 0);
    }
    case Kind::kObject: return step_object(t, c);
    case Kind::kArray: return step_array(t, c, forks);
    case Kind::kString: return step_string(t, c);
    case Kind::kNumber: return step_number(t, c, forks);
    case Kind::kLiteral: return step_literal(t, c);
    case Kind::kRaw: return step_raw(t, c);
  }
  return false;
}

// Starts `node` with its first byte c (the node's frame is not on the stack yet).
bool GrammarState::begin(Thread& t, int32_t node, uint8_t c, std::vector<Thread>& forks, int depth) const {
  if (depth > kMaxBeginDepth) return false;
  const GrammarNode& n = g_->nodes[static_cast<size_t>(node)];
  if (n.is_json && is_space(c)) {
    if (control_) return false;
    return push(t, frame(Kind::kValue, node)) && space(t);
  }
  switch (n.kind) {
    case GrammarNode::Kind::kAnyOf: {
      const Thread base = t;
      bool any = false;
      for (int32_t alt : n.children) {
        Thread cand = base;
        if (!begin(cand, alt, c, forks, depth + 1)) continue;
        if (!any) t = std::move(cand), any = true;
        else forks.push_back(std::move(cand));
      }
      return any;
    }
    case GrammarNode::Kind::kSequence: {
      if (n.children.size() > 1) {
        Frame s = frame(Kind::kSequence, node);
        s.count = 1;
        if (!push(t, s)) return false;
      }
      return !n.children.empty() && begin(t, n.children[0], c, forks, depth + 1);
    }
    case GrammarNode::Kind::kLiteral:
      if ((control_ && n.is_json) || n.text.empty() || static_cast<uint8_t>(n.text[0]) != c) return false;
      if (!push(t, frame(Kind::kLiteral, node))) return false;
      t.stack.back().count = 1;
      if (n.text.size() == 1) finish_top(t);
      return true;
    case GrammarNode::Kind::kJson: return !control_ && begin_json(t, node, c);
    case GrammarNode::Kind::kRawUntil:
      if (n.text.empty() || !push(t, frame(Kind::kRaw, node))) return false;
      return step_raw(t, c);
  }
  return false;
}

bool GrammarState::begin_json(Thread& t, int32_t node, uint8_t c) const {
  const GrammarNode& n = g_->nodes[static_cast<size_t>(node)];
  Frame f;
  f.node = node;
  if (c == '{' && (n.types & kTypeObject)) {
    f.kind = Kind::kObject;
  } else if (c == '[' && (n.types & kTypeArray)) {
    f.kind = Kind::kArray;
  } else if (c == '"' && (n.types & kTypeString)) {
    f.kind = Kind::kString;
  } else if ((c == '-' || is_digit(c)) && (n.types & (kTypeInteger | kTypeNumber))) {
    f.kind = Kind::kNumber;
    f.phase = c == '-' ? kMinus : c == '0' ? kZero : kInt;
  } else if ((c == 't' || c == 'f') && (n.types & kTypeBoolean)) {
    f.kind = Kind::kLiteral;
    f.node = c == 't' ? -1 : -2;
    f.count = 1;
  } else if (c == 'n' && (n.types & kTypeNull)) {
    f.kind = Kind::kLiteral;
    f.node = -3;
    f.count = 1;
  } else {
    return false;
  }
  return push(t, f);
}

bool GrammarState::step_literal(Thread& t, uint8_t c) const {
  Frame& f = t.stack.back();
  const std::string_view text = literal_text(f.node);
  if (static_cast<uint8_t>(text[static_cast<size_t>(f.count)]) != c) return false;
  if (static_cast<size_t>(++f.count) == text.size()) finish_top(t);
  return true;
}

// Raw text: count is how much of the terminator the text ends with; after a
// mismatch it falls back to the longest terminator prefix that still ends the
// text (terminators are short markup, so the quadratic search is cheap).
// Control-token bytes are only allowed as part of the terminator.
bool GrammarState::step_raw(Thread& t, uint8_t c) const {
  Frame& f = t.stack.back();
  const std::string_view end = g_->nodes[static_cast<size_t>(f.node)].text;
  const size_t matched = static_cast<size_t>(f.count);
  if (static_cast<uint8_t>(end[matched]) == c) {
    if (++f.count == static_cast<int32_t>(end.size())) finish_top(t);
    return true;
  }
  if (control_) return false;
  size_t k = matched;  // longest k with end[0..k) == (end[matched-k+1..matched) + c)
  for (; k > 0; --k)
    if (static_cast<uint8_t>(end[k - 1]) == c && end.substr(0, k - 1) == end.substr(matched - k + 1, k - 1)) break;
  f.count = static_cast<int32_t>(k);
  return true;
}

bool GrammarState::step_object(Thread& t, uint8_t c) const {
  Frame& f = t.stack.back();
  const GrammarNode& n = g_->nodes[static_cast<size_t>(f.node)];
  if (f.phase == kInKey) return step_key(t, f, c);
  if (is_space(c)) return space(t);
  const uint64_t props = all_bits(n.properties.size());
  const bool key_possible = (props & ~f.seen) != 0 || n.additional >= 0;
  const bool can_close = (f.seen & n.required) == n.required;
  switch (f.phase) {
    case kKeyOrClose:
    case kObjAfter:
      if (c == '}') {
        if (!can_close) return false;
        finish_top(t);
        return true;
      }
      if (f.phase == kObjAfter) {
        if (c != ',' || !key_possible) return false;
        f.phase = kKey;
        return true;
      }
      [[fallthrough]];
    case kKey:
      if (c != '"' || !key_possible) return false;
      f.phase = kInKey, f.count = 0, f.cand = props, f.child = -1;
      return true;
    case kColon: {
      if (c != ':') return false;
      f.phase = kObjValue;
      const int32_t value = f.child >= 0 ? n.properties[static_cast<size_t>(f.child)].node : n.additional;
      return push(t, frame(Kind::kValue, value));
    }
    default: return false;
  }
}

// Key bytes narrow the candidate properties (cand); a key that matches none is
// an additional property where the schema allows those.
bool GrammarState::step_key(Thread&, Frame& f, uint8_t c) const {
  const GrammarNode& n = g_->nodes[static_cast<size_t>(f.node)];
  const size_t pos = static_cast<size_t>(f.count);
  if (c == '"') {
    for (size_t i = 0; i < n.properties.size(); ++i) {
      if (!((f.cand >> i) & 1) || n.properties[i].name.size() != pos) continue;
      if ((f.seen >> i) & 1) return false;  // a duplicate key
      f.child = static_cast<int32_t>(i);
      f.seen |= uint64_t{1} << i;
      f.phase = kColon;
      return true;
    }
    if (n.additional < 0) return false;
    f.child = -2, f.phase = kColon;
    return true;
  }
  if (c == '\\' || c < 0x20) return false;
  uint64_t next = 0;
  for (size_t i = 0; i < n.properties.size(); ++i)
    if (((f.cand >> i) & 1) && n.properties[i].name.size() > pos && static_cast<uint8_t>(n.properties[i].name[pos]) == c)
      next |= uint64_t{1} << i;
  const bool unseen = (next & ~f.seen) != 0;
  const bool free_key = n.additional >= 0 && f.count < kMaxFreeKey && (c < 0x80 || next != 0);
  if (!unseen && !free_key) return false;
  f.cand = next;
  ++f.count;
  return true;
}

bool GrammarState::step_array(Thread& t, uint8_t c, std::vector<Thread>& forks) const {
  Frame& f = t.stack.back();
  const GrammarNode& n = g_->nodes[static_cast<size_t>(f.node)];
  if (is_space(c)) return space(t);
  const bool can_close = f.count >= n.min_items;
  const bool more = n.max_items < 0 || f.count < n.max_items;
  if (f.phase == kArrAfter) {
    if (c == ']' && can_close) return finish_top(t), true;
    if (c != ',' || !more) return false;
    f.phase = kItem;
    return true;
  }
  if (f.phase == kItemOrClose && c == ']') return can_close && (finish_top(t), true);
  if (!more) return false;
  f.phase = kInItem;
  return begin(t, n.items, c, forks, 0);
}

bool GrammarState::step_string(Thread& t, uint8_t c) const {
  Frame& f = t.stack.back();
  const GrammarNode& n = g_->nodes[static_cast<size_t>(f.node)];
  const bool counting = n.min_length > 0 || n.max_length >= 0;
  auto one_more = [&] {  // a character starts: counted only where a length bound needs it
    if (!counting) return true;
    if (n.max_length >= 0 && f.count >= n.max_length) return false;
    ++f.count;
    return true;
  };
  if (f.phase == kEscape) {
    if (c == 'u') return f.phase = kHex, f.utf8_left = 4, f.seen = 0, true;
    if (!std::strchr("\"\\/bfnrt", c) || c == 0) return false;
    f.phase = kChars;
    return one_more();
  }
  if (f.phase == kHex) {  // \uXXXX; surrogates (D800-DFFF) are refused
    const int h = hex_value(c);
    if (h < 0) return false;
    const int idx = 4 - f.utf8_left;
    if (idx == 0 && h == 0xD) f.seen = 1;
    if (idx == 1 && f.seen && h >= 8) return false;
    if (--f.utf8_left > 0) return true;
    f.phase = kChars;
    return one_more();
  }
  if (f.utf8_left > 0) {
    if (c < f.utf8_lo || c > f.utf8_hi) return false;
    --f.utf8_left, f.utf8_lo = 0x80, f.utf8_hi = 0xBF;
    return true;
  }
  if (c == '"') return f.count >= n.min_length && (finish_top(t), true);
  if (c == '\\') {  // the escape is one more character: refuse it where none fits (no dead end inside it)
    if (counting && n.max_length >= 0 && f.count >= n.max_length) return false;
    return f.phase = kEscape, true;
  }
  if (c < 0x20) return false;
  if (c >= 0x80) {  // a UTF-8 lead byte (RFC 3629 §4 ranges)
    if (c >= 0xC2 && c <= 0xDF) f.utf8_left = 1;
    else if (c >= 0xE0 && c <= 0xEF) f.utf8_left = 2, f.utf8_lo = c == 0xE0 ? 0xA0 : 0x80, f.utf8_hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) f.utf8_left = 3, f.utf8_lo = c == 0xF0 ? 0x90 : 0x80, f.utf8_hi = c == 0xF4 ? 0x8F : 0xBF;
    else return false;
  }
  return one_more();
}

// number = [ "-" ] ( "0" / [1-9] *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]  (RFC 8259 §6)
bool GrammarState::step_number(Thread& t, uint8_t c, std::vector<Thread>& forks) const {
  Frame& f = t.stack.back();
  const uint8_t types = g_->nodes[static_cast<size_t>(f.node)].types;
  const bool integer = !(types & kTypeNumber);
  const bool digit = is_digit(c), exp = c == 'e' || c == 'E';
  switch (f.phase) {
    case kMinus: return digit && (f.phase = c == '0' ? kZero : kInt, true);
    case kZero:
    case kInt:
      if (digit && f.phase == kInt) return true;
      if (c == '.' || exp) return !integer && (f.phase = c == '.' ? kDot : kExp, true);
      break;
    case kDot: return digit && (f.phase = kFrac, true);
    case kFrac:
      if (digit) return true;
      if (exp) return f.phase = kExp, true;
      break;
    case kExp: return (digit || c == '+' || c == '-') && (f.phase = digit ? kExpDigits : kExpSign, true);
    case kExpSign: return digit && (f.phase = kExpDigits, true);
    case kExpDigits:
      if (digit) return true;
      break;
    default: return false;
  }
  // The number ended before c, which belongs to what follows.
  finish_top(t);
  return step_thread(t, c, forks);
}

}  // namespace dseek
