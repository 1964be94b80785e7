// ChatOutputParser: a small state machine over the not-yet-classified input
// (pending_). Every decision depends only on the text seen so far plus whether
// the stream has ended, never on where the pieces were split, so streaming and
// one-shot parsing give the same totals (tests and fuzz_chat_output check it).
#include "server/chat_output.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

namespace dseek {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSep = "<｜tool▁sep｜>";
constexpr std::string_view kSpace = " \t\r\n";

// Whitespace before a possible leading <think> is held back; past this much the
// output is taken to have no <think> (bounds the hold-back and the re-scanning).
constexpr size_t kMaxLeadingSpace = 64;
// A single call's text beyond this is not a tool call (bounds the buffer).
constexpr size_t kMaxCallBytes = size_t{1} << 20;
constexpr size_t kMaxNameBytes = 256;

// Length of the longest suffix of s that is a proper prefix of marker: those
// bytes might still become the marker, so they cannot be emitted yet.
size_t marker_tail(std::string_view s, std::string_view marker) {
  for (size_t k = std::min(s.size(), marker.size() - 1); k > 0; --k) {
    if (s.substr(s.size() - k) == marker.substr(0, k)) return k;
  }
  return 0;
}

// Length of an incomplete UTF-8 sequence at the end of s (0 if none): holding
// it back keeps each delta whole characters when the detokeniser splits one.
size_t utf8_tail(std::string_view s) {
  for (size_t k = 1; k <= std::min<size_t>(3, s.size()); ++k) {
    const auto b = static_cast<unsigned char>(s[s.size() - k]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
    const size_t need = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// OpenAI restricts names to [A-Za-z0-9_-]; '.' and ':' are let through for
// namespaced tools. ASCII only, so a name is always valid UTF-8 in a response.
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':';
  });
}

// Drops whitespace outside strings. Done on the model's own text instead of
// parse+dump so that numbers, escapes and key order survive byte-exact (dump
// would reformat 1.0e5 and, for json, sort keys).
std::string minify(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (kSpace.find(c) != std::string_view::npos) {
      continue;
    } else if (c == '"') {
      in_string = true;
    }
    out.push_back(c);
  }
  return out;
}

// The arguments text of a call -> compact JSON object text, or nothing if it
// is not one. A Markdown fence (```json … ```) around it is removed first.
std::optional<std::string> arguments_text(std::string_view s) {
  s = trim(s);
  if (s.starts_with("```")) {
    const size_t eol = s.find('\n');
    if (eol == std::string_view::npos || !s.ends_with("```") || s.size() < eol + 4) return std::nullopt;
    const std::string_view tag = trim(s.substr(3, eol - 3));
    if (!tag.empty() && tag != "json") return std::nullopt;
    s = trim(s.substr(eol + 1, s.size() - 3 - (eol + 1)));
  }
  // accept() parses iteratively (no recursion, no DOM), so deep nesting in
  // untrusted text costs memory linear in its size, never the stack.
  if (!s.starts_with("{") || !nlohmann::json::accept(s.begin(), s.end())) return std::nullopt;
  return minify(s);
}

struct ParsedCall {
  std::string name, arguments;
};

// A call's text between <｜tool▁call▁begin｜> and <｜tool▁call▁end｜>:
//   V3/R1: "function" SEP NAME "\n" ```json ARGS ```      V3.1: NAME SEP ARGS
// "function" SEP is tried as V3 first, then as V3.1 (a tool named "function").
std::optional<ParsedCall> parse_call(std::string_view body) {
  const size_t sep = body.find(kSep);
  if (sep == std::string_view::npos) return std::nullopt;
  const std::string_view head = trim(body.substr(0, sep));
  const std::string_view rest = body.substr(sep + kSep.size());
  if (head == "function") {
    const size_t eol = rest.find('\n');
    if (eol != std::string_view::npos) {
      const std::string_view name = trim(rest.substr(0, eol));
      auto args = valid_name(name) ? arguments_text(rest.substr(eol + 1)) : std::nullopt;
      if (args) return ParsedCall{std::string(name), std::move(*args)};
    }
  }
  if (!valid_name(head)) return std::nullopt;
  auto args = arguments_text(rest);
  if (!args) return std::nullopt;
  return ParsedCall{std::string(head), std::move(*args)};
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// "call_" + 24 hex digits (96 bits, like OpenAI's ids), a pure function of (seed, index).
std::string call_id(uint64_t seed, int index) {
  const uint64_t a = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(index) * 2 + 1));
  const uint64_t b = splitmix64(a);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "call_";
  for (int i = 60; i >= 0; i -= 4) id.push_back(kHex[(a >> i) & 15]);
  for (int i = 60; i >= 32; i -= 4) id.push_back(kHex[(b >> i) & 15]);
  return id;
}

}  // namespace

ChatOutputParser::ChatOutputParser(bool starts_in_reasoning, uint64_t id_seed, ToolParsing tools)
    : starts_in_reasoning_(starts_in_reasoning), id_seed_(id_seed), tools_(std::move(tools)) {}

ChatOutputDelta ChatOutputParser::feed(std::string_view text) {
  ChatOutputDelta out;
  pending_.append(text);
  run(false, out);
  return out;
}

ChatOutputDelta ChatOutputParser::finish() {
  ChatOutputDelta out;
  run(true, out);
  return out;
}

// Steps until none makes progress. Each step either consumes input or moves to
// a mode that will, so this ends.
void ChatOutputParser::run(bool eof, ChatOutputDelta& out) {
  for (bool progress = true; progress;) {
    switch (mode_) {
      case Mode::kStart: progress = step_start(eof); break;
      case Mode::kReasoning:
      case Mode::kContent: progress = step_text(eof, out); break;
      case Mode::kBlock: progress = step_block(eof, out); break;
      case Mode::kCall: progress = step_call(eof, out); break;
    }
  }
}

// Decides whether the output opens with <think> (after optional whitespace).
bool ChatOutputParser::step_start(bool eof) {
  const size_t first = pending_.find_first_not_of(kSpace);
  const size_t space = first == std::string::npos ? pending_.size() : first;
  if (space <= kMaxLeadingSpace) {
    if (first == std::string::npos && !eof) return false;
    const std::string_view rest = std::string_view(pending_).substr(space);
    if (rest.starts_with(kThinkOpen)) {
      pending_.erase(0, space + kThinkOpen.size());
      mode_ = Mode::kReasoning;
      strip_newlines_ = true;
      return true;
    }
    if (!eof && !rest.empty() && kThinkOpen.starts_with(rest)) return false;
  }
  mode_ = starts_in_reasoning_ ? Mode::kReasoning : Mode::kContent;
  strip_newlines_ = starts_in_reasoning_;
  return true;
}

// Reasoning runs to </think>; content runs to <｜tool▁calls▁begin｜>.
bool ChatOutputParser::step_text(bool eof, ChatOutputDelta& out) {
  const bool reasoning = mode_ == Mode::kReasoning;
  if (strip_newlines_) {
    const size_t n = pending_.find_first_not_of("\r\n");
    if (n == std::string::npos) {
      pending_.clear();
      return false;
    }
    pending_.erase(0, n);
    strip_newlines_ = false;
  }
  const std::string_view marker = reasoning ? kThinkClose : kCallsBegin;
  const size_t at = reasoning || tools_.enabled ? pending_.find(marker) : std::string::npos;
  if (at != std::string::npos) {
    const std::string_view before = std::string_view(pending_).substr(0, at);
    if (reasoning) {
      emit_reasoning(before, out);
      mode_ = Mode::kContent;
      strip_newlines_ = true;
    } else {
      emit_content(before, out);
      mode_ = Mode::kBlock;
      raw_ = kCallsBegin;
      block_calls_ = 0;
    }
    pending_.erase(0, at + marker.size());
    return true;
  }
  const size_t tail = reasoning || tools_.enabled ? marker_tail(pending_, marker) : 0;
  const size_t keep = eof ? 0 : std::max(tail, utf8_tail(pending_));
  const std::string_view ready = std::string_view(pending_).substr(0, pending_.size() - keep);
  if (reasoning) emit_reasoning(ready, out);
  else emit_content(ready, out);
  pending_.erase(0, ready.size());
  return false;  // what is left needs more input
}

// Between calls: whitespace, then <｜tool▁call▁begin｜> or <｜tool▁calls▁end｜>.
bool ChatOutputParser::step_block(bool eof, ChatOutputDelta& out) {
  const size_t first = pending_.find_first_not_of(kSpace);
  const size_t space = first == std::string::npos ? pending_.size() : first;
  raw_.append(pending_, 0, space);
  pending_.erase(0, space);
  if (pending_.empty()) {
    if (!eof) return false;
    // Stream ended after the last call without <｜tool▁calls▁end｜> (e.g. a
    // token limit): the calls stand; an empty block is given back as text.
    if (block_calls_ == 0) emit_content(raw_, out);
    raw_.clear();
    mode_ = Mode::kContent;
    return true;
  }
  if (pending_.starts_with(kCallBegin)) {
    raw_.append(kCallBegin);
    pending_.erase(0, kCallBegin.size());
    body_.clear();
    mode_ = Mode::kCall;
    return true;
  }
  if (pending_.starts_with(kCallsEnd)) {
    raw_.append(kCallsEnd);
    pending_.erase(0, kCallsEnd.size());
    if (block_calls_ == 0) emit_content(raw_, out);
    raw_.clear();
    mode_ = Mode::kContent;
    return true;
  }
  if (!eof && (kCallBegin.starts_with(pending_) || kCallsEnd.starts_with(pending_))) return false;
  degrade(out);  // unknown text between calls
  return true;
}

// Inside a call: collect its text up to <｜tool▁call▁end｜>.
bool ChatOutputParser::step_call(bool eof, ChatOutputDelta& out) {
  const size_t at = pending_.find(kCallEnd);
  size_t take = at;
  if (at == std::string::npos) take = eof ? pending_.size() : pending_.size() - marker_tail(pending_, kCallEnd);
  if (body_.size() + take > kMaxCallBytes) {
    // Cut at exactly the limit, whatever the split, so totals stay split-invariant.
    const size_t cut = kMaxCallBytes - body_.size();
    raw_.append(pending_, 0, cut);
    pending_.erase(0, cut);
    degrade(out);
    return true;
  }
  body_.append(pending_, 0, take);
  raw_.append(pending_, 0, take);
  pending_.erase(0, take);
  if (at == std::string::npos) {
    if (!eof) return false;
    degrade(out);  // stream ended mid-call
    return true;
  }
  raw_.append(kCallEnd);
  pending_.erase(0, kCallEnd.size());
  end_call(out);
  return true;
}

void ChatOutputParser::end_call(ChatOutputDelta& out) {
  std::optional<ParsedCall> parsed = parse_call(body_);
  body_.clear();
  const auto& names = tools_.names;
  if (parsed && !names.empty() && std::find(names.begin(), names.end(), parsed->name) == names.end()) parsed.reset();
  if (tool_calls_.size() >= tools_.max_calls) parsed.reset();  // parallel_tool_calls false: one call only
  if (!parsed) {
    degrade(out);
    return;
  }
  ToolCall call;
  call.index = static_cast<int>(tool_calls_.size());
  call.id = call_id(id_seed_, call.index);
  call.name = std::move(parsed->name);
  call.arguments = std::move(parsed->arguments);
  out.tool_calls.push_back(call);
  tool_calls_.push_back(std::move(call));
  raw_.clear();
  ++block_calls_;
  mode_ = Mode::kBlock;
}

// Gives the block's unconverted raw text back as content; what follows is
// parsed as content again (where a later <｜tool▁calls▁begin｜> starts a new block).
void ChatOutputParser::degrade(ChatOutputDelta& out) {
  emit_content(raw_, out);
  raw_.clear();
  body_.clear();
  mode_ = Mode::kContent;
  strip_newlines_ = false;
}

void ChatOutputParser::emit_reasoning(std::string_view s, ChatOutputDelta& out) {
  out.reasoning.append(s);
  reasoning_.append(s);
}

void ChatOutputParser::emit_content(std::string_view s, ChatOutputDelta& out) {
  out.content.append(s);
  content_.append(s);
}

}  // namespace dseek
