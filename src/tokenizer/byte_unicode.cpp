// See byte_unicode.h. The map (GPT-2 encoder.py bytes_to_unicode): printable
// Latin-1 bytes map to themselves, the other 68 bytes to U+0100.. in byte order.
#include "tokenizer/byte_unicode.h"

#include <array>
#include <cstring>

namespace dseek {
namespace {

constexpr bool is_printable_byte(uint8_t b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> to_byte{};  // every mapped code point is < 324
  constexpr ByteMap() {
    for (auto& x : to_byte) x = -1;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = is_printable_byte(static_cast<uint8_t>(b)) ? static_cast<uint32_t>(b) : next++;
      to_cp[b] = cp;
      to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};
constexpr ByteMap kByteMap;

}  // namespace

uint32_t byte_to_codepoint(uint8_t b) { return kByteMap.to_cp[b]; }

int codepoint_to_byte(uint32_t cp) { return cp < kByteMap.to_byte.size() ? kByteMap.to_byte[cp] : -1; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t utf8_len(uint8_t c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

uint32_t decode_utf8(std::string_view s, size_t i, size_t& len) {
  const auto c = static_cast<uint8_t>(s[i]);
  len = 1;
  if (c < 0x80) return c;
  const size_t n = utf8_len(c);
  if (n == 1 || i + n > s.size()) return 0xFFFD;
  uint32_t cp = c & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    const auto d = static_cast<uint8_t>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (d & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF (RFC 3629).
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  len = n;
  return cp;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (i + 8 <= s.size()) {  // ASCII fast path, 8 bytes at a time
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    size_t len = 0;
    const uint32_t cp = decode_utf8(s, i, len);
    if (cp == 0xFFFD && !(len == 3 && s.substr(i, 3) == "\xEF\xBF\xBD")) return false;
    i += len;
  }
  return true;
}

std::string bytes_to_unicode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, byte_to_codepoint(static_cast<uint8_t>(c)));
  return out;
}

bool unicode_to_bytes(std::string_view text, std::string& out) {
  for (size_t i = 0; i < text.size();) {
    size_t len = 0;
    const uint32_t cp = decode_utf8(text, i, len);
    const int b = codepoint_to_byte(cp);
    if (b < 0) return false;
    out += static_cast<char>(b);
    i += len;
  }
  return true;
}

}  // namespace dseek
