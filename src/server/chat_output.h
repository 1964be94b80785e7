// Streaming parser that splits a DeepSeek chat model's generated text into the
// OpenAI response fields: reasoning (R1-style <think>…</think>), content and
// tool calls (the V3/R1, V3.1 and V3.2 DSML markup). It works on detokenised text fed
// in arbitrary pieces and never fails: anything it cannot make sense of is
// passed through as content. It does not tokenise, sample or know about HTTP.
#pragma once

#include <cstdint>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dseek {

// One complete tool call, as OpenAI's `tool_calls[i]` (type is always "function").
struct ToolCall {
  int index = 0;          // 0, 1, 2, … over the whole response
  std::string id;         // "call_" + 24 lowercase hex digits, derived from the parser's seed and index
  std::string name;       // ASCII [A-Za-z0-9_.:-], 1..256 bytes
  std::string arguments;  // a JSON object, re-serialised without insignificant whitespace
                          // (numbers, escapes and key order are kept byte-exact)
};

// A piece of a tool call for streaming (OpenAI's chunk shape): a call's first
// part has its id and name and no arguments; its later parts carry fragments
// whose concatenation is the call's final `arguments`.
struct ToolCallPart {
  int index = 0;
  std::string id, name;  // the first part only
  std::string arguments;
};

// What one feed()/finish() call produced. Concatenating every delta's fields
// gives the parser's totals. Every call in tool_calls (complete calls, for
// whole answers) also comes as tool_call_parts (for streams), at the latest in
// the same delta; parts may come earlier (see ToolParsing::stream_arguments).
struct ChatOutputDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::vector<ToolCallPart> tool_call_parts;
  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty() && tool_call_parts.empty(); }
};

// Which tool calls a response may contain (from the request's tools,
// tool_choice and parallel_tool_calls). A call block that breaks these rules
// is given back as content, byte-exact, like any malformed block.
struct ToolParsing {
  bool enabled = true;             // false (no tools, tool_choice "none"): markup stays content
  std::vector<std::string> names;  // callable functions; empty: any valid name
  size_t max_calls = SIZE_MAX;     // 1 with parallel_tool_calls false
  // The calls are held to the markup by a grammar: a call's parts are sent as
  // it is generated (the name once known, then the arguments: JSON as it
  // comes, DSML parameter by parameter), because the call cannot turn out
  // malformed. One that still breaks off (the length limit) stands with the
  // arguments sent so far. Off: a call's parts come when it is complete.
  bool stream_arguments = false;
};

// Recognised markup (the bars are U+FF5C, the '▁' U+2581):
//   reasoning   [<think>] REASONING </think> CONTENT
//   V3 / R1     <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>…<｜tool▁calls▁end｜>
//   V3.1        <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>…<｜tool▁calls▁end｜>
//   V3.2 (DSML) <｜DSML｜function_calls>\n<｜DSML｜invoke name="NAME">\n
//               <｜DSML｜parameter name="K" string="true|false">V</｜DSML｜parameter>…\n</｜DSML｜invoke>…
//               </｜DSML｜function_calls>   (string="true": V is raw text; else V is JSON;
//               the arguments become {"K":V,…} in the parameters' order)
//   V4 (DSML)   the same with the block <｜DSML｜tool_calls>…</｜DSML｜tool_calls>
// Rules:
//  * Reasoning: with starts_in_reasoning (the generation prompt ended with
//    <think>) the output is reasoning up to </think>; otherwise only an output
//    that begins, after optional whitespace, with <think> has reasoning (a
//    stray leading <think> is dropped in both modes). Leading newlines of the
//    reasoning and of the content right after </think> are stripped. A stream
//    that ends inside reasoning leaves it all as reasoning.
//  * Tool calls are recognised in content only. Each call is emitted once its
//    <｜tool▁call▁end｜> arrives, if its name is valid and its arguments are a
//    JSON object (a ```json fence around them is accepted in both formats).
//    The block markers and whitespace between calls are dropped.
//  * Anything malformed in a block (bad JSON or name, no separator, unknown text
//    between calls, a call over 1 MiB, the stream ending mid-call) turns the
//    block's raw text not yet turned into calls into content, byte-exact, and
//    parsing goes on in content (where a later block may start).
//  * Streaming: held back are only a tail that could still grow into a marker,
//    an incomplete UTF-8 sequence at the end of a piece (so every delta is whole
//    characters when the input is valid UTF-8), and, inside a tool-call block,
//    the current call until it is complete. Everything else is emitted at once.
//    The totals do not depend on how the input was split.

// Drops JSON whitespace outside strings, one byte at a time (so that a streamed
// text and a whole one come out the same).
struct JsonMinifier {
  bool in_string = false, escaped = false;
  bool keep(char c);  // whether `c` stays; advances the string/escape state
};

class ChatOutputParser {
 public:
  // id_seed makes tool-call ids unique per response (pass a per-request random
  // number) yet reproducible in tests.
  explicit ChatOutputParser(bool starts_in_reasoning = false, uint64_t id_seed = 0, ToolParsing tools = {});

  ChatOutputDelta feed(std::string_view text);
  // End of stream: flushes everything held back. Further feed() calls after
  // finish() are treated as a continuation of the same stream.
  ChatOutputDelta finish();

  // Totals so far (for non-streaming responses): the concatenation of every delta.
  const std::string& reasoning() const { return reasoning_; }
  const std::string& content() const { return content_; }
  const std::vector<ToolCall>& tool_calls() const { return tool_calls_; }

 private:
  enum class Mode { kStart, kReasoning, kContent, kBlock, kCall };

  void run(bool eof, ChatOutputDelta& out);
  bool step_start(bool eof);
  bool step_text(bool eof, ChatOutputDelta& out);
  bool step_block(bool eof, ChatOutputDelta& out);
  bool step_call(bool eof, ChatOutputDelta& out);
  void end_call(ChatOutputDelta& out);
  void degrade(ChatOutputDelta& out);
  void stream_call(bool eof, ChatOutputDelta& out);
  bool start_call(ChatOutputDelta& out);
  void stream_json_arguments(bool eof, ChatOutputDelta& out);
  void stream_dsml_arguments(ChatOutputDelta& out);
  void emit_arguments(std::string_view s, ChatOutputDelta& out);
  void add_call(std::string name, std::string arguments, ChatOutputDelta& out);
  void emit_reasoning(std::string_view s, ChatOutputDelta& out);
  void emit_content(std::string_view s, ChatOutputDelta& out);

  Mode mode_ = Mode::kStart;
  bool starts_in_reasoning_;
  bool strip_newlines_ = false;  // drop '\n'/'\r' at the start of the current reasoning/content run
  uint64_t id_seed_;
  ToolParsing tools_;
  std::string pending_;          // input not yet classified
  std::string raw_;              // current block's text not yet turned into calls (for degrading)
  std::string body_;             // current call between <｜tool▁call▁begin｜> and <｜tool▁call▁end｜>
  int block_calls_ = 0;          // calls emitted from the current block
  int dialect_ = 0;              // which markup the current block is in (see kDialects in the .cpp)
  // The current call while its parts are streamed (stream_arguments):
  bool call_started_ = false;    // its first part went out
  std::string call_name_;
  size_t args_fed_ = 0;          // body_ bytes already turned into streamed_
  std::string streamed_;         // arguments sent so far
  JsonMinifier minifier_;        // JSON state at args_fed_
  std::vector<std::string> streamed_keys_;    // DSML parameters sent
  std::string reasoning_, content_;
  std::vector<ToolCall> tool_calls_;
};

}  // namespace dseek
