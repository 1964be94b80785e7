// libFuzzer target: ChatOutputParser on arbitrary model output. Input: one
// flag byte (bit 0: starts in reasoning; bit 1: stream arguments), two bytes
// choosing a split point, then the text. The text fed whole, split in two and
// one byte at a time must give identical totals; deltas must add up to the
// totals; each call's streamed parts must start with its id and name and add up
// to its arguments; every tool call must carry a valid name and (unless
// streamed, where a call cut off stands as sent) a JSON object. Any crash or
// mismatch is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "server/chat_output.h"

namespace {

struct Totals {
  std::string reasoning, content;
  std::vector<dseek::ToolCall> calls;
  std::vector<std::string> part_args;  // per call index: its parts' arguments joined
};

void check(bool ok) {
  if (!ok) std::abort();
}

Totals run(const std::vector<std::string_view>& pieces, bool in_reasoning, bool stream) {
  dseek::ToolParsing tools;
  tools.stream_arguments = stream;
  dseek::ChatOutputParser p(in_reasoning, 42, tools);
  Totals t;
  auto add = [&](const dseek::ChatOutputDelta& d) {
    t.reasoning += d.reasoning;
    t.content += d.content;
    t.calls.insert(t.calls.end(), d.tool_calls.begin(), d.tool_calls.end());
    for (const auto& part : d.tool_call_parts) {
      const size_t i = static_cast<size_t>(part.index);
      if (!part.name.empty()) {  // a call's first part: the next index, no arguments yet
        check(i == t.part_args.size() && part.arguments.empty() && part.id.starts_with("call_"));
        t.part_args.emplace_back();
      } else {
        check(i + 1 == t.part_args.size());
        t.part_args[i] += part.arguments;
      }
    }
  };
  for (auto piece : pieces) add(p.feed(piece));
  add(p.finish());
  check(t.reasoning == p.reasoning() && t.content == p.content() && t.calls.size() == p.tool_calls().size());
  check(t.part_args.size() == t.calls.size());
  for (size_t i = 0; i < t.calls.size(); ++i) check(t.part_args[i] == t.calls[i].arguments);
  return t;
}

void same(const Totals& a, const Totals& b) {
  check(a.reasoning == b.reasoning && a.content == b.content && a.calls.size() == b.calls.size());
  for (size_t i = 0; i < a.calls.size(); ++i) {
    check(a.calls[i].id == b.calls[i].id && a.calls[i].name == b.calls[i].name &&
          a.calls[i].arguments == b.calls[i].arguments && a.calls[i].index == b.calls[i].index);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const bool in_reasoning = data[0] & 1, stream = data[0] & 2;
  const std::string_view text(reinterpret_cast<const char*>(data + 3), size - 3);
  const size_t split = (size_t{data[1]} << 8 | data[2]) % (text.size() + 1);

  const Totals whole = run({text}, in_reasoning, stream);
  same(run({text.substr(0, split), text.substr(split)}, in_reasoning, stream), whole);
  if (text.size() <= 4096) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < text.size(); ++i) bytes.push_back(text.substr(i, 1));
    same(run(bytes, in_reasoning, stream), whole);
  }
  // The parser only ever drops markup: it never makes text up.
  check(whole.reasoning.size() + whole.content.size() <= text.size());
  for (size_t i = 0; i < whole.calls.size(); ++i) {
    const auto& c = whole.calls[i];
    check(c.index == static_cast<int>(i) && c.id.size() == 29 && c.id.starts_with("call_"));
    check(!c.name.empty());
    if (!stream) check(c.arguments.starts_with("{") && nlohmann::json::accept(c.arguments));
  }
  return 0;
}
