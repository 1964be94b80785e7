// Runs a Grammar (json_schema.h) over bytes: accepts a byte only if the text
// stays a prefix of some text the grammar accepts. anyOf / enum alternatives
// run side by side as threads (each a stack of frames) that die when a byte
// rules them out, so the check is exact, not an over-approximation. Beyond the
// schema it refuses, to keep a model from running away or writing text other
// parsers refuse: more than kMaxSpaceRun whitespace bytes in a row, nesting
// past kMaxDepth, ill-formed UTF-8 in strings, \u escapes of surrogates,
// backslashes in object keys, and non-ASCII in keys that are not properties.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/json_schema.h"

namespace dseek {

class GrammarState {
 public:
  static constexpr int kMaxDepth = 32;
  static constexpr size_t kMaxThreads = 16;
  static constexpr int kMaxSpaceRun = 8;

  // The grammar must outlive the state.
  explicit GrammarState(const Grammar& g);

  // Appends one byte if allowed; otherwise returns false and the state is unusable
  // (callers step a copy; see accepts()).
  bool step(uint8_t c);
  // Feeds `bytes` (all or nothing).
  bool feed(std::string_view bytes);
  bool accepts(std::string_view bytes) const;
  // A control token's text (chat markup such as <｜tool▁sep｜>): allowed only
  // where every byte is consumed by raw markup, never inside JSON.
  bool feed_control(std::string_view bytes);
  bool accepts_control(std::string_view bytes) const;
  // The text is a whole document (only whitespace may follow a JSON root), or
  // free text that may end the output (Grammar::text_or_until).
  bool complete() const;
  // A byte string equal for states that accept the same continuations (mask cache key).
  std::string key() const;

  struct Frame {
    enum class Kind : uint8_t { kValue, kObject, kArray, kString, kNumber, kLiteral, kSequence, kRaw };
    Kind kind = Kind::kValue;
    uint8_t phase = 0;
    uint8_t utf8_left = 0, utf8_lo = 0x80, utf8_hi = 0xBF;
    int32_t node = -1;   // grammar node; literals of true/false/null: -1, -2, -3
    int32_t count = 0;   // object: key length; array: items; string: code points; literal: position; sequence: child;
                         // raw: bytes of the terminator matched so far
    int32_t child = -1;  // object: property index of the current key (-2: an additional key)
    uint64_t seen = 0;   // object: properties present
    uint64_t cand = 0;   // object: properties the key being read can still become
    bool operator==(const Frame&) const = default;
  };
  struct Thread {
    std::vector<Frame> stack;
    uint8_t space_run = 0;
    bool done = false;
    bool operator==(const Thread&) const = default;
  };

 private:
  bool step_thread(Thread& t, uint8_t c, std::vector<Thread>& forks) const;
  bool begin(Thread& t, int32_t node, uint8_t c, std::vector<Thread>& forks, int depth) const;
  bool begin_json(Thread& t, int32_t node, uint8_t c) const;
  bool step_object(Thread& t, uint8_t c) const;
  bool step_key(Thread& t, Frame& f, uint8_t c) const;
  bool step_array(Thread& t, uint8_t c, std::vector<Thread>& forks) const;
  bool step_string(Thread& t, uint8_t c) const;
  bool step_number(Thread& t, uint8_t c, std::vector<Thread>& forks) const;
  bool step_literal(Thread& t, uint8_t c) const;
  bool step_raw(Thread& t, uint8_t c) const;
  bool space(Thread& t) const;
  bool opens_with_free_text(int32_t node) const;
  bool may_end_at(const Frame& f) const;
  void finish_top(Thread& t) const;
  bool push(Thread& t, Frame f) const;
  std::string_view literal_text(int32_t node) const;

  const Grammar* g_;
  std::vector<Thread> threads_;
  std::vector<Thread> forks_;  // scratch, kept to reuse its capacity
  bool control_ = false;       // the byte being stepped belongs to a control token
};

}  // namespace dseek
