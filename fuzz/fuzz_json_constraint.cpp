// libFuzzer target: JsonPrefixChecker. Input: one flag byte (bit 0: allow any
// top-level value), then the bytes. Checks: byte-at-a-time and whole feeding
// agree; a rejected feed leaves the state alone; mask_logits agrees with
// accepts(); and against nlohmann::json — a fully accepted, complete text is
// valid JSON, and valid JSON within the checker's caps is accepted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/json_constraint.h"
#include "support/json_acceptor.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

using Acceptor = dseek::test::JsonAcceptor;

// For text nlohmann accepted: within the checker's nesting and whitespace caps?
bool within_caps(std::string_view s) {
  int depth = 0, run = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    run = (c == ' ' || c == '\t' || c == '\n' || c == '\r') ? run + 1 : 0;
    if (run > dseek::JsonPrefixChecker::kMaxSpaceRun) return false;
    if (c == '{' || c == '[') ++depth;
    if (depth > dseek::JsonPrefixChecker::kMaxDepth) return false;
    if (c == '}' || c == ']') --depth;
    if (c == '"') in_string = true;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool require_object = !(data[0] & 1);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  dseek::JsonPrefixChecker bytewise(require_object);
  size_t accepted = 0;
  while (accepted < text.size() && bytewise.feed(text.substr(accepted, 1))) ++accepted;
  if (accepted < text.size()) {
    // A rejected byte changed nothing: the checker still takes what it took before.
    dseek::JsonPrefixChecker copy = bytewise;
    check(!bytewise.feed(text.substr(accepted, 1)) && bytewise.complete() == copy.complete());
  }
  dseek::JsonPrefixChecker whole(require_object);
  const bool all = accepted == text.size();
  check(whole.feed(text) == all);

  // mask_logits must allow exactly what accepts() allows (plus the end-token rule).
  static const std::vector<std::string> vocab = {"{", "}", "[", "]", "\"", ":", ",", " ", "1", "-", ".", "e",
                                                 "true", "\\u", "\xC3", "\xA9", "a\"", "", "<eos>"};
  const std::vector<int32_t> ends = {18};
  std::vector<float> logits(vocab.size(), 1.0f);
  mask_logits(bytewise, vocab, ends, logits.data());
  size_t allowed_text = 0;
  for (size_t i = 0; i + 1 < vocab.size(); ++i) {
    const bool ok = !vocab[i].empty() && bytewise.accepts(vocab[i]);
    check((logits[i] == 1.0f) == ok);
    allowed_text += ok;
  }
  check((logits[18] == 1.0f) == (bytewise.complete() || allowed_text == 0));

  // Differential against nlohmann, which skips a UTF-8 BOM and takes a NUL
  // byte as the end of input; the checker rejects both.
  if (text.starts_with("\xEF\xBB\xBF") || text.find('\0') != std::string_view::npos) return 0;
  Acceptor sax;
  const bool valid = nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  if (sax.overflow) return 0;
  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool valid_here = valid && (!require_object || text[first] == '{');
  if (all && bytewise.complete()) check(valid_here);
  if (valid_here && within_caps(text)) check(all && bytewise.complete());
  return 0;
}
