// GPT-2's byte <-> unicode map used by byte-level BPE (HF ByteLevel): every byte
// gets a printable code point so token strings are valid UTF-8. Plus the small
// UTF-8 helpers the tokenizer needs. Not a general Unicode library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dseek {

// Code point that byte `b` is spelled with in byte-level vocabularies.
uint32_t byte_to_codepoint(uint8_t b);
// Inverse of byte_to_codepoint; -1 if `cp` is not in the map.
int codepoint_to_byte(uint32_t cp);

// Appends the UTF-8 encoding of `cp`.
void append_utf8(std::string& out, uint32_t cp);
// Length of the UTF-8 sequence that lead byte `c` announces (1 for invalid leads).
size_t utf8_len(uint8_t c);
// Decodes one code point at `s[i]`; sets `len` (>= 1). Invalid -> 0xFFFD, len 1.
uint32_t decode_utf8(std::string_view s, size_t i, size_t& len);
// True if `s` is entirely valid UTF-8.
bool is_valid_utf8(std::string_view s);

// Byte-level spelling of raw bytes ("Hello world" -> "HelloĠworld").
std::string bytes_to_unicode(std::string_view bytes);
// Raw bytes of a byte-level spelling; false if a code point is outside the map.
bool unicode_to_bytes(std::string_view text, std::string& out);

}  // namespace dseek
