// Constrained sampling for OpenAI's response_format {"type": "json_object"}:
// an incremental byte-level JSON (RFC 8259) prefix validator, and a logit mask
// that lets through only tokens whose bytes keep the output a prefix of a valid
// document. It validates syntax only (no JSON Schema) and allocates nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dseek {

// Byte-at-a-time JSON validator with a small fixed-size state (copying it is a
// few dozen bytes), so a sampler can try every vocabulary token on a copy.
// Beyond RFC 8259 it rejects, to keep a model from running away or producing
// text other parsers refuse:
//  * nesting deeper than kMaxDepth containers;
//  * more than kMaxSpaceRun consecutive whitespace bytes outside strings
//    (leading, between tokens and after the value alike);
//  * ill-formed UTF-8 in strings (overlongs, surrogates, > U+10FFFF) and
//    unpaired \uD800-\uDFFF escapes — as nlohmann::json does. A token may end
//    in the middle of a UTF-8 sequence; the next one continues it.
// Numbers are checked for syntax only (1e999 is accepted).
class JsonPrefixChecker {
 public:
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxSpaceRun = 8;

  // require_object: the top-level value must be an object (json_object mode).
  explicit JsonPrefixChecker(bool require_object = true);

  // Appends bytes if the text stays a prefix of some valid document; otherwise
  // returns false and leaves the state as it was.
  bool feed(std::string_view bytes);
  // Whether the text plus bytes would still be such a prefix (state untouched).
  bool accepts(std::string_view bytes) const;
  // A whole top-level value has been read; only whitespace may follow. (A
  // top-level number is complete as soon as it could end, e.g. after "12".)
  bool complete() const;

 private:
  enum class St : uint8_t {
    kValue,         // a value must start (top level, after ':' or ',' in an array)
    kValueOrClose,  // after '[': a value or ']'
    kKeyOrClose,    // after '{': '"' or '}'
    kKey,           // after ',' in an object: '"'
    kColon,         // after a key
    kAfterValue,    // inside a container: ',' or its closer
    kDone,          // top-level value complete
    kString,        // inside a string (key or value, see in_key_)
    kEscape,        // after '\'
    kHex,           // in the 4 hex digits of \u (hex_left_ to go)
    kLowBackslash,  // after a high surrogate escape: '\' must follow
    kLowU,          // ... then 'u'
    kLiteral,       // inside true/false/null
    kMinus,         // number: after '-'
    kZero,          // number: leading 0
    kInt,           // number: integer digits
    kDot,           // number: after '.'
    kFrac,          // number: fraction digits
    kExp,           // number: after 'e'/'E'
    kExpSign,       // number: after the exponent sign
    kExpDigits,     // number: exponent digits
  };

  bool step(uint8_t c);
  bool step_string(uint8_t c);
  bool step_escape(uint8_t c);
  bool step_hex(uint8_t c);
  bool step_number(uint8_t c);
  bool start_value(uint8_t c);
  bool open(bool is_object);
  bool close(uint8_t c);
  void value_done();
  bool space();

  uint64_t stack_ = 0;        // bit d set: container at depth d is an object
  uint16_t code_unit_ = 0;    // \uXXXX digits read so far
  uint8_t depth_ = 0;
  St st_ = St::kValue;
  uint8_t space_run_ = 0;
  uint8_t hex_left_ = 0;
  uint8_t literal_ = 0;       // index into the literal table
  uint8_t literal_pos_ = 0;
  uint8_t utf8_left_ = 0;     // continuation bytes still due
  uint8_t utf8_lo_ = 0x80, utf8_hi_ = 0xBF;  // range allowed for the next continuation byte
  bool low_due_ = false;      // the current \u escape must be a low surrogate
  bool in_key_ = false;
  bool require_object_;
};

// Sets logits[i] = -infinity for every token i whose bytes would take the text
// out of the set of valid prefixes, and for empty non-end tokens. End tokens
// (EOS and the like; their bytes are ignored) stay allowed only when the value
// is complete — or when every other token is masked, so generation stops
// rather than hangs. token_bytes.size() is the vocabulary size and the length
// of logits; out-of-range end-token ids are ignored.
void mask_logits(const JsonPrefixChecker& state, const std::vector<std::string>& token_bytes,
                 std::span<const int32_t> end_tokens, float* logits);

}  // namespace dseek
