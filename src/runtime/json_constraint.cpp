// JsonPrefixChecker: a pushdown automaton over bytes whose stack is a 64-bit
// mask (one bit per open container: object or array), following the grammar
// of RFC 8259 §2-§8; mask_logits tries every token on a copy of it.
#include "runtime/json_constraint.h"
#include "runtime/json_bytes.h"

#include <limits>

namespace dseek {
namespace {

using json_bytes::hex_value;
using json_bytes::is_digit;
using json_bytes::is_space;
using json_bytes::kLiterals;

}  // namespace

JsonPrefixChecker::JsonPrefixChecker(bool require_object) : require_object_(require_object) {}

bool JsonPrefixChecker::feed(std::string_view bytes) {
  JsonPrefixChecker next = *this;
  for (char c : bytes) {
    if (!next.step(static_cast<uint8_t>(c))) return false;
  }
  *this = next;
  return true;
}

bool JsonPrefixChecker::accepts(std::string_view bytes) const {
  JsonPrefixChecker next = *this;
  for (char c : bytes) {
    if (!next.step(static_cast<uint8_t>(c))) return false;
  }
  return true;
}

bool JsonPrefixChecker::complete() const {
  if (st_ == St::kDone) return true;
  // A top-level number has no closing byte: it is whole whenever it could end.
  const bool number_can_end = st_ == St::kZero || st_ == St::kInt || st_ == St::kFrac || st_ == St::kExpDigits;
  return depth_ == 0 && number_can_end;
}

bool JsonPrefixChecker::step(uint8_t c) {
  switch (st_) {
    case St::kString: return step_string(c);
    case St::kEscape: return step_escape(c);
    case St::kHex: return step_hex(c);
    case St::kLowBackslash:
      if (c != '\\') return false;
      st_ = St::kLowU;
      return true;
    case St::kLowU:
      if (c != 'u') return false;
      st_ = St::kHex;
      hex_left_ = 4;
      code_unit_ = 0;
      return true;
    case St::kLiteral: {
      const std::string_view lit = kLiterals[literal_];
      if (c != static_cast<uint8_t>(lit[literal_pos_])) return false;
      if (++literal_pos_ == lit.size()) value_done();
      return true;
    }
    case St::kMinus:
    case St::kZero:
    case St::kInt:
    case St::kDot:
    case St::kFrac:
    case St::kExp:
    case St::kExpSign:
    case St::kExpDigits: return step_number(c);
    default: break;
  }
  // Between tokens.
  if (is_space(c)) return space();
  space_run_ = 0;
  switch (st_) {
    case St::kValue: return start_value(c);
    case St::kValueOrClose: return c == ']' ? close(c) : start_value(c);
    case St::kKeyOrClose:
      if (c == '}') return close(c);
      [[fallthrough]];
    case St::kKey:
      if (c != '"') return false;
      st_ = St::kString;
      in_key_ = true;
      return true;
    case St::kColon:
      if (c != ':') return false;
      st_ = St::kValue;
      return true;
    case St::kAfterValue:
      if (c == ',') {
        st_ = (stack_ >> (depth_ - 1)) & 1 ? St::kKey : St::kValue;
        return true;
      }
      return (c == '}' || c == ']') && close(c);
    default: return false;  // kDone: nothing but whitespace may follow
  }
}

// Whitespace is insignificant but capped, so a model cannot pad forever.
bool JsonPrefixChecker::space() {
  if (space_run_ >= kMaxSpaceRun) return false;
  ++space_run_;
  return true;
}

bool JsonPrefixChecker::start_value(uint8_t c) {
  if (c == '{') return open(true);
  if (require_object_ && depth_ == 0) return false;
  switch (c) {
    case '[': return open(false);
    case '"':
      st_ = St::kString;
      in_key_ = false;
      return true;
    case '-': st_ = St::kMinus; return true;
    case '0': st_ = St::kZero; return true;
    case 't':
    case 'f':
    case 'n':
      literal_ = c == 't' ? 0 : c == 'f' ? 1 : 2;
      literal_pos_ = 1;
      st_ = St::kLiteral;
      return true;
    default:
      if (c < '1' || c > '9') return false;
      st_ = St::kInt;
      return true;
  }
}

bool JsonPrefixChecker::open(bool is_object) {
  if (depth_ >= kMaxDepth) return false;
  const uint64_t bit = uint64_t{1} << depth_;
  stack_ = is_object ? (stack_ | bit) : (stack_ & ~bit);
  ++depth_;
  st_ = is_object ? St::kKeyOrClose : St::kValueOrClose;
  return true;
}

// Only reached in states that exist inside a container, so depth_ > 0.
bool JsonPrefixChecker::close(uint8_t c) {
  const bool is_object = (stack_ >> (depth_ - 1)) & 1;
  if ((c == '}') != is_object) return false;
  --depth_;
  value_done();
  return true;
}

void JsonPrefixChecker::value_done() { st_ = depth_ == 0 ? St::kDone : St::kAfterValue; }

bool JsonPrefixChecker::step_string(uint8_t c) {
  if (utf8_left_ > 0) {
    if (c < utf8_lo_ || c > utf8_hi_) return false;
    --utf8_left_;
    utf8_lo_ = 0x80;
    utf8_hi_ = 0xBF;
    return true;
  }
  if (c == '"') {
    if (in_key_) st_ = St::kColon;
    else value_done();
    in_key_ = false;
    return true;
  }
  if (c == '\\') {
    st_ = St::kEscape;
    return true;
  }
  if (c < 0x20) return false;  // control characters must be escaped (RFC 8259 §7)
  if (c < 0x80) return true;
  // A UTF-8 lead byte: how many continuation bytes follow, and the range of the
  // first one, which excludes overlongs, surrogates and code points > U+10FFFF
  // (RFC 3629 §4).
  if (c >= 0xC2 && c <= 0xDF) {
    utf8_left_ = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    utf8_left_ = 2;
    if (c == 0xE0) utf8_lo_ = 0xA0;
    if (c == 0xED) utf8_hi_ = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    utf8_left_ = 3;
    if (c == 0xF0) utf8_lo_ = 0x90;
    if (c == 0xF4) utf8_hi_ = 0x8F;
  } else {
    return false;  // a stray continuation byte, C0, C1 or F5-FF
  }
  return true;
}

bool JsonPrefixChecker::step_escape(uint8_t c) {
  switch (c) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': st_ = St::kString; return true;
    case 'u':
      st_ = St::kHex;
      hex_left_ = 4;
      code_unit_ = 0;
      low_due_ = false;
      return true;
    default: return false;
  }
}

// \uXXXX: a high surrogate must be followed by a \u low surrogate, and a low
// one may not stand alone. Rejected at the first digit that rules it out.
bool JsonPrefixChecker::step_hex(uint8_t c) {
  const int h = hex_value(c);
  if (h < 0) return false;
  const uint16_t unit = static_cast<uint16_t>((code_unit_ << 4) | h);
  const int left = hex_left_ - 1;
  const uint32_t lo = uint32_t{unit} << (4 * left);
  const uint32_t hi = lo | ((uint32_t{1} << (4 * left)) - 1);
  const bool all_low = lo >= 0xDC00 && hi <= 0xDFFF;
  const bool some_low = hi >= 0xDC00 && lo <= 0xDFFF;
  if (low_due_ ? !some_low : all_low) return false;
  code_unit_ = unit;
  hex_left_ = static_cast<uint8_t>(left);
  if (left > 0) return true;
  if (low_due_) {
    low_due_ = false;
    st_ = St::kString;
  } else if (unit >= 0xD800 && unit <= 0xDBFF) {
    low_due_ = true;
    st_ = St::kLowBackslash;
  } else {
    st_ = St::kString;
  }
  return true;
}

// number = [ "-" ] ( "0" / [1-9] *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]  (RFC 8259 §6)
bool JsonPrefixChecker::step_number(uint8_t c) {
  const bool digit = is_digit(c);
  const bool exp = c == 'e' || c == 'E';
  switch (st_) {
    case St::kMinus:
      if (!digit) return false;
      st_ = c == '0' ? St::kZero : St::kInt;
      return true;
    case St::kZero:
    case St::kInt:
      if (digit && st_ == St::kInt) return true;
      if (c == '.') st_ = St::kDot;
      else if (exp) st_ = St::kExp;
      else break;
      return true;
    case St::kDot:
      if (!digit) return false;
      st_ = St::kFrac;
      return true;
    case St::kFrac:
      if (digit) return true;
      if (!exp) break;
      st_ = St::kExp;
      return true;
    case St::kExp:
      if (c != '+' && c != '-' && !digit) return false;
      st_ = digit ? St::kExpDigits : St::kExpSign;
      return true;
    case St::kExpSign:
      if (!digit) return false;
      st_ = St::kExpDigits;
      return true;
    case St::kExpDigits:
      if (digit) return true;
      break;
    default: return false;
  }
  // The number ended just before c (kZero, kInt, kFrac, kExpDigits); c is the
  // next token's first byte. value_done() leaves a between-tokens state, so
  // this recursion is one level deep.
  value_done();
  return step(c);
}

void mask_logits(const JsonPrefixChecker& state, const std::vector<std::string>& token_bytes,
                 std::span<const int32_t> end_tokens, float* logits) {
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  const size_t n_vocab = token_bytes.size();
  auto in_range = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n_vocab; };
  // End tokens are judged by the rule below, not by their text: keep their logits.
  std::vector<float> saved(end_tokens.size(), kMasked);
  for (size_t j = 0; j < end_tokens.size(); ++j) {
    if (in_range(end_tokens[j])) saved[j] = logits[end_tokens[j]];
  }
  size_t allowed = 0;
  for (size_t i = 0; i < n_vocab; ++i) {
    const std::string& bytes = token_bytes[i];
    if (!bytes.empty() && state.accepts(bytes)) ++allowed;
    else logits[i] = kMasked;
  }
  // Do not count end tokens (each once) among the text tokens that remain.
  for (size_t j = 0; j < end_tokens.size(); ++j) {
    const int32_t id = end_tokens[j];
    bool seen = false;
    for (size_t k = 0; k < j; ++k) seen = seen || end_tokens[k] == id;
    if (!in_range(id) || seen) continue;
    const std::string& bytes = token_bytes[static_cast<size_t>(id)];
    if (!bytes.empty() && state.accepts(bytes)) --allowed;
  }
  const bool allow_end = state.complete() || allowed == 0;
  for (size_t j = 0; j < end_tokens.size(); ++j) {
    if (in_range(end_tokens[j])) logits[end_tokens[j]] = allow_end ? saved[j] : kMasked;
  }
}

}  // namespace dseek
