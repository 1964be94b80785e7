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
constexpr std::string_view kSep = "<｜tool▁sep｜>";
constexpr std::string_view kSpace = " \t\r\n";

// The block and call markers of each call markup the parser knows.
struct BlockMarkers {
  std::string_view calls_begin, calls_end, call_begin, call_end;
};
constexpr BlockMarkers kDialects[] = {
    {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>"},  // V3 / R1 / V3.1
    {"<｜DSML｜function_calls>", "</｜DSML｜function_calls>", "<｜DSML｜invoke", "</｜DSML｜invoke>"},      // V3.2 (DSML)
    {"<｜DSML｜tool_calls>", "</｜DSML｜tool_calls>", "<｜DSML｜invoke", "</｜DSML｜invoke>"},              // V4 (DSML)
};
// V3.2 and V4 differ only in the block's name: their calls parse alike.
bool is_dsml(int dialect) { return dialect >= 1; }
constexpr std::string_view kDsmlParamBegin = "<｜DSML｜parameter name=\"";
constexpr std::string_view kDsmlParamEnd = "</｜DSML｜parameter>";

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

}  // namespace

bool JsonMinifier::keep(char c) {
  if (in_string) {
    if (escaped) escaped = false;
    else if (c == '\\') escaped = true;
    else if (c == '"') in_string = false;
    return true;
  }
  if (kSpace.find(c) != std::string_view::npos) return false;
  if (c == '"') in_string = true;
  return true;
}

namespace {

// Drops whitespace outside strings. Done on the model's own text instead of
// parse+dump so that numbers, escapes and key order survive byte-exact (dump
// would reformat 1.0e5 and, for json, sort keys).
std::string minify(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  JsonMinifier m;
  for (char c : s)
    if (m.keep(c)) out.push_back(c);
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

// `"NAME" string="true|false">VALUE` (after the parameter opener, before its
// closer) -> the key and the JSON text of its value: string="true" values are
// raw text, the others JSON.
bool dsml_parameter(std::string_view p, std::string& key, std::string& value) {
  const size_t q = p.find('"');
  if (q == std::string_view::npos) return false;
  key = std::string(p.substr(0, q));
  std::string_view rest = p.substr(q + 1);
  bool is_string;
  if (rest.starts_with(" string=\"true\">")) is_string = true;
  else if (rest.starts_with(" string=\"false\">")) is_string = false;
  else return false;
  rest.remove_prefix(is_string ? 15 : 16);
  if (key.empty() || key.find_first_of("\\\n<>") != std::string::npos) return false;
  if (is_string) {
    value = nlohmann::json(std::string(rest)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return true;
  }
  rest = trim(rest);
  if (rest.empty() || !nlohmann::json::accept(rest.begin(), rest.end())) return false;
  value = minify(rest);
  return true;
}

// A DSML call's text between <｜DSML｜invoke and </｜DSML｜invoke>:
//   name="NAME">\n<｜DSML｜parameter name="K" string="true|false">V</｜DSML｜parameter>\n…
// -> the name and the arguments as a compact JSON object (keys in order).
std::optional<ParsedCall> parse_dsml_call(std::string_view body) {
  constexpr std::string_view kHead = " name=\"";
  if (!body.starts_with(kHead)) return std::nullopt;
  body.remove_prefix(kHead.size());
  const size_t close = body.find("\">");
  if (close == std::string_view::npos || !valid_name(body.substr(0, close))) return std::nullopt;
  ParsedCall call{std::string(body.substr(0, close)), "{"};
  body.remove_prefix(close + 2);
  std::vector<std::string> keys;
  for (body = trim(body); !body.empty(); body = trim(body)) {
    if (!body.starts_with(kDsmlParamBegin)) return std::nullopt;
    body.remove_prefix(kDsmlParamBegin.size());
    const size_t end = body.find(kDsmlParamEnd);
    std::string key, value;
    if (end == std::string_view::npos || !dsml_parameter(body.substr(0, end), key, value)) return std::nullopt;
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return std::nullopt;  // a key twice
    if (!keys.empty()) call.arguments += ',';
    call.arguments += nlohmann::json(key).dump() + ":" + value;
    keys.push_back(std::move(key));
    body.remove_prefix(end + kDsmlParamEnd.size());
  }
  call.arguments += '}';
  return call;
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

// Where the earliest call-block opener of any dialect starts in s (npos: none),
// and which dialect it opens.
size_t find_block(std::string_view s, int& dialect) {
  size_t best = std::string_view::npos;
  for (int d = 0; d < static_cast<int>(std::size(kDialects)); ++d) {
    const size_t at = s.find(kDialects[d].calls_begin);
    if (at < best) {
      best = at;
      dialect = d;
    }
  }
  return best;
}

size_t block_tail(std::string_view s) {
  size_t tail = 0;
  for (const BlockMarkers& d : kDialects) tail = std::max(tail, marker_tail(s, d.calls_begin));
  return tail;
}


// Streaming: where a call's arguments start once its name is known. JSON
// forms: after "NAME<｜tool▁sep｜>" (V3.1) or "function<｜tool▁sep｜>NAME\n"
// (V3), past a ```json fence; DSML: after ` name="NAME">`. 0: not known yet.
size_t call_head(std::string_view body, bool dsml, std::string& name) {
  if (dsml) {
    constexpr std::string_view kHead = " name=\"";
    const size_t close = body.find("\">");
    if (!body.starts_with(kHead) || close == std::string_view::npos) return 0;
    name = std::string(body.substr(kHead.size(), close - kHead.size()));
    return close + 2;
  }
  const size_t sep = body.find(kSep);
  if (sep == std::string_view::npos) return 0;
  size_t at = sep + kSep.size();
  name = std::string(trim(body.substr(0, sep)));
  if (name == "function") {
    const size_t eol = body.find('\n', at);
    if (eol == std::string_view::npos) return 0;
    name = std::string(trim(body.substr(at, eol - at)));
    at = eol + 1;
  }
  at = body.find_first_not_of(kSpace, at);
  if (at == std::string_view::npos) return 0;
  if (body[at] != '`') return at;
  const size_t eol = body.find('\n', at);  // a ```json fence: the arguments start on the next line
  return eol == std::string_view::npos ? 0 : eol + 1;
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

// Reasoning runs to </think>; content runs to the opener of a call block.
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
  int dialect = dialect_;
  size_t at = std::string::npos;
  if (reasoning) at = pending_.find(kThinkClose);
  else if (tools_.enabled) at = find_block(pending_, dialect);
  if (at != std::string::npos) {
    const std::string_view before = std::string_view(pending_).substr(0, at);
    if (reasoning) {
      emit_reasoning(before, out);
      mode_ = Mode::kContent;
      strip_newlines_ = true;
      pending_.erase(0, at + kThinkClose.size());
    } else {
      emit_content(before, out);
      mode_ = Mode::kBlock;
      dialect_ = dialect;
      raw_ = kDialects[dialect].calls_begin;
      block_calls_ = 0;
      pending_.erase(0, at + raw_.size());
    }
    return true;
  }
  const size_t tail = reasoning ? marker_tail(pending_, kThinkClose) : tools_.enabled ? block_tail(pending_) : 0;
  const size_t keep = eof ? 0 : std::max(tail, utf8_tail(pending_));
  const std::string_view ready = std::string_view(pending_).substr(0, pending_.size() - keep);
  if (reasoning) emit_reasoning(ready, out);
  else emit_content(ready, out);
  pending_.erase(0, ready.size());
  return false;  // what is left needs more input
}

// Between calls: whitespace, then the dialect's call opener or block closer.
bool ChatOutputParser::step_block(bool eof, ChatOutputDelta& out) {
  const std::string_view call_begin = kDialects[dialect_].call_begin, calls_end = kDialects[dialect_].calls_end;
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
  if (pending_.starts_with(call_begin)) {
    raw_.append(call_begin);
    pending_.erase(0, call_begin.size());
    body_.clear();
    mode_ = Mode::kCall;
    return true;
  }
  if (pending_.starts_with(calls_end)) {
    raw_.append(calls_end);
    pending_.erase(0, calls_end.size());
    if (block_calls_ == 0) emit_content(raw_, out);
    raw_.clear();
    mode_ = Mode::kContent;
    return true;
  }
  if (!eof && (call_begin.starts_with(pending_) || calls_end.starts_with(pending_))) return false;
  degrade(out);  // unknown text between calls
  return true;
}

// Inside a call: collect its text up to the call closer.
bool ChatOutputParser::step_call(bool eof, ChatOutputDelta& out) {
  const std::string_view call_end = kDialects[dialect_].call_end;
  const size_t at = pending_.find(call_end);
  size_t take = at;
  if (at == std::string::npos) take = eof ? pending_.size() : pending_.size() - marker_tail(pending_, call_end);
  if (body_.size() + take > kMaxCallBytes) {
    // Cut at exactly the limit, whatever the split, so totals stay split-invariant.
    const size_t cut = kMaxCallBytes - body_.size();
    body_.append(pending_, 0, cut);
    raw_.append(pending_, 0, cut);
    pending_.erase(0, cut);
    if (tools_.stream_arguments) stream_call(true, out);  // a streamed call stands with all it had
    degrade(out);
    return true;
  }
  body_.append(pending_, 0, take);
  raw_.append(pending_, 0, take);
  pending_.erase(0, take);
  if (tools_.stream_arguments) stream_call(eof && at == std::string::npos, out);
  if (at == std::string::npos) {
    if (!eof) return false;
    degrade(out);  // stream ended mid-call
    return true;
  }
  raw_.append(call_end);
  pending_.erase(0, call_end.size());
  end_call(out);
  return true;
}

void ChatOutputParser::end_call(ChatOutputDelta& out) {
  std::optional<ParsedCall> parsed = is_dsml(dialect_) ? parse_dsml_call(body_) : parse_call(body_);
  body_.clear();
  const auto& names = tools_.names;
  if (parsed && !names.empty() && std::find(names.begin(), names.end(), parsed->name) == names.end()) parsed.reset();
  if (tool_calls_.size() >= tools_.max_calls) parsed.reset();  // parallel_tool_calls false: one call only
  if (call_started_) {  // its parts went out: it stands, with the arguments sent
    if (parsed && parsed->name == call_name_ && parsed->arguments.starts_with(streamed_))
      emit_arguments(std::string_view(parsed->arguments).substr(streamed_.size()), out);
    add_call(call_name_, streamed_, out);
  } else if (parsed) {
    add_call(std::move(parsed->name), std::move(parsed->arguments), out);
  } else {
    degrade(out);
    return;
  }
  raw_.clear();
  ++block_calls_;
  mode_ = Mode::kBlock;
}

// Records a complete call (and its parts, unless they were streamed).
void ChatOutputParser::add_call(std::string name, std::string arguments, ChatOutputDelta& out) {
  ToolCall call;
  call.index = static_cast<int>(tool_calls_.size());
  call.id = call_id(id_seed_, call.index);
  call.name = std::move(name);
  call.arguments = std::move(arguments);
  if (!call_started_) {
    out.tool_call_parts.push_back({call.index, call.id, call.name, ""});
    out.tool_call_parts.push_back({call.index, "", "", call.arguments});
  }
  call_started_ = false;
  out.tool_calls.push_back(call);
  tool_calls_.push_back(std::move(call));
}

// Sends what is new in the current call: its first part once the name is
// known and callable, then the arguments.
void ChatOutputParser::stream_call(bool eof, ChatOutputDelta& out) {
  if (!call_started_ && !start_call(out)) return;
  if (is_dsml(dialect_)) stream_dsml_arguments(out);
  else stream_json_arguments(eof, out);
}

bool ChatOutputParser::start_call(ChatOutputDelta& out) {
  // The name is looked for in the call's first bytes only, whatever has
  // arrived, so the decision does not depend on how the text was split.
  constexpr size_t kMaxHead = 2 * kMaxNameBytes + 64;
  if (tool_calls_.size() >= tools_.max_calls) return false;
  std::string name;
  const size_t at = call_head(std::string_view(body_).substr(0, kMaxHead), is_dsml(dialect_), name);
  const auto& names = tools_.names;
  if (at == 0 || !valid_name(name) || (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()))
    return false;
  const int index = static_cast<int>(tool_calls_.size());
  out.tool_call_parts.push_back({index, call_id(id_seed_, index), name, ""});
  call_started_ = true;
  call_name_ = std::move(name);
  args_fed_ = at;
  streamed_.clear();
  streamed_keys_.clear();
  minifier_ = JsonMinifier{};
  return true;
}

// JSON as it comes, whitespace outside strings dropped; a tail that may be the
// closing ``` fence (or space before it) waits for the call's end.
void ChatOutputParser::stream_json_arguments(bool eof, ChatOutputDelta& out) {
  // Held back even at the end of the stream: a cut-off call must not send
  // markup (the fence, a partly written call-end marker) as arguments.
  (void)eof;
  size_t end = body_.size() - marker_tail(body_, kDialects[dialect_].call_end);
  while (end > args_fed_ && (body_[end - 1] == '`' || kSpace.find(body_[end - 1]) != std::string_view::npos)) --end;
  std::string piece;
  for (; args_fed_ < end; ++args_fed_) {
    const char c = body_[args_fed_];
    if (minifier_.keep(c)) piece.push_back(c);
  }
  emit_arguments(piece, out);
}

// DSML: each complete parameter as `{"K":V` or `,"K":V`; the closing brace comes with the call's end.
void ChatOutputParser::stream_dsml_arguments(ChatOutputDelta& out) {
  for (;;) {
    const std::string_view rest = std::string_view(body_).substr(args_fed_);
    const size_t start = rest.find_first_not_of(kSpace);
    if (start == std::string_view::npos || !rest.substr(start).starts_with(kDsmlParamBegin)) return;
    const size_t end = rest.find(kDsmlParamEnd, start);
    if (end == std::string_view::npos) return;
    std::string key, value;
    const size_t from = start + kDsmlParamBegin.size();
    if (!dsml_parameter(rest.substr(from, end - from), key, value)) return;
    if (std::find(streamed_keys_.begin(), streamed_keys_.end(), key) != streamed_keys_.end()) return;
    std::string piece(streamed_.empty() ? "{" : ",");
    piece += nlohmann::json(key).dump();
    piece += ':';
    piece += value;
    emit_arguments(piece, out);
    streamed_keys_.push_back(std::move(key));
    args_fed_ += end + kDsmlParamEnd.size();
  }
}

void ChatOutputParser::emit_arguments(std::string_view s, ChatOutputDelta& out) {
  if (s.empty()) return;
  streamed_.append(s);
  out.tool_call_parts.push_back({static_cast<int>(tool_calls_.size()), "", "", std::string(s)});
}

// Gives the block's unconverted raw text back as content; what follows is
// parsed as content again (where a later <｜tool▁calls▁begin｜> starts a new block).
// A call whose parts went out stands instead, with the arguments sent.
void ChatOutputParser::degrade(ChatOutputDelta& out) {
  if (call_started_) {
    add_call(call_name_, streamed_, out);
    raw_.clear();
  }
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
