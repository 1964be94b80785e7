// Per-tensor weight types for `dseek quantize --type-map`: an ordered list of
// (regular expression, type) rules over GGUF tensor names, the way mixed
// community quants are made (experts in 2 bits, attention in 8, ...).
#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace dseek {

class TensorTypeMap {
 public:
  // "regex=type,regex=type,...": each rule's ECMAScript regex is searched in
  // the tensor name (so 'attn' matches blk.0.attn_q_a.weight); the first rule
  // that matches gives the type. Types are dtype names (q2_k, q8_0, ...);
  // `writable` says which of them the caller can write. Unknown types, types
  // not writable, bad regexes and entries without '=' are errors naming the entry.
  static Result<TensorTypeMap> parse(std::string_view spec, bool (*writable)(DType));

  // The type of the first rule matching `name`, else `fallback`.
  DType type_of(const std::string& name, DType fallback) const;
  size_t size() const { return rules_.size(); }

 private:
  struct Rule {
    std::string pattern;
    std::regex re;
    DType type;
  };
  std::vector<Rule> rules_;
};

}  // namespace dseek
