// Incremental detokeniser for streaming output: push ids one at a time and get
// back only complete UTF-8 (a multi-byte character split across tokens is held
// until its last byte arrives). Bytes that can never become valid UTF-8 are
// passed through rather than held forever. flush() returns whatever is left.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace dseek {

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, DecodeOptions opts = {});
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer* tok_;
  DecodeOptions opts_;
  std::string pending_;
  bool at_start_;
};

}  // namespace dseek
