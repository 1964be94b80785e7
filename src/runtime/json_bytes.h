// The byte classes of JSON's grammar (RFC 8259), shared by the byte-level
// checkers (json_constraint, json_schema_checker).
#pragma once

#include <cstdint>
#include <string_view>

namespace dseek::json_bytes {

constexpr std::string_view kLiterals[] = {"true", "false", "null"};

inline bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
inline bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
// The value of a hex digit, or -1.
inline int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace dseek::json_bytes
