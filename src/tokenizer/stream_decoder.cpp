// See stream_decoder.h. The concatenation of everything push/flush return is
// exactly Tokenizer::decode of the same ids (same leading-space rule).
#include "tokenizer/stream_decoder.h"

#include "tokenizer/byte_unicode.h"

namespace dseek {
namespace {

// Length of the longest prefix of `s` that does not end inside an incomplete
// (but so far well-formed) UTF-8 sequence.
size_t complete_prefix(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<uint8_t>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = utf8_len(c);
    // A lead that can start a valid sequence (C2..F4) with too few continuations: hold it.
    if (c >= 0xC2 && c <= 0xF4 && need > back) return n - back;
    return n;
  }
  return n;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, DecodeOptions opts)
    : tok_(&tok), opts_(opts), at_start_(tok.strips_leading_space()) {}

std::string StreamDecoder::push(int32_t id) {
  if (opts_.skip_special && tok_->is_control(id)) return {};
  std::string_view b = tok_->token_bytes(id);
  if (at_start_ && !tok_->is_control(id) && !b.empty()) {
    if (b[0] == ' ') b.remove_prefix(1);
    at_start_ = false;
  }
  pending_ += b;
  const size_t k = complete_prefix(pending_);
  std::string out = pending_.substr(0, k);
  pending_.erase(0, k);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace dseek
