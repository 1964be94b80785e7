// ChatOutputParser: reasoning split, both tool-call formats, degradation of
// malformed markup to raw content, and split-invariance (every split point and
// one byte at a time give the same totals as feeding the text whole).
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "server/chat_output.h"

namespace dseek {
namespace {

const std::string kCallsBegin = "<｜tool▁calls▁begin｜>";
const std::string kCallsEnd = "<｜tool▁calls▁end｜>";
const std::string kCallBegin = "<｜tool▁call▁begin｜>";
const std::string kCallEnd = "<｜tool▁call▁end｜>";
const std::string kSep = "<｜tool▁sep｜>";

std::string v3_call(const std::string& name, const std::string& args) {
  return kCallBegin + "function" + kSep + name + "\n```json\n" + args + "\n```" + kCallEnd;
}
std::string v31_call(const std::string& name, const std::string& args) {
  return kCallBegin + name + kSep + args + kCallEnd;
}

struct Totals {
  std::string reasoning, content;
  std::vector<ToolCall> calls;
};

// Feeds the pieces, checks that the deltas add up to the parser's totals, returns them.
Totals parse(const std::vector<std::string>& pieces, bool in_reasoning = false, uint64_t seed = 7) {
  ChatOutputParser p(in_reasoning, seed);
  Totals sum;
  auto add = [&](const ChatOutputDelta& d) {
    sum.reasoning += d.reasoning;
    sum.content += d.content;
    sum.calls.insert(sum.calls.end(), d.tool_calls.begin(), d.tool_calls.end());
  };
  for (const auto& s : pieces) add(p.feed(s));
  add(p.finish());
  EXPECT_EQ(sum.reasoning, p.reasoning());
  EXPECT_EQ(sum.content, p.content());
  EXPECT_EQ(sum.calls.size(), p.tool_calls().size());
  return sum;
}
Totals parse_whole(const std::string& s, bool in_reasoning = false) { return parse({s}, in_reasoning); }

void expect_same(const Totals& a, const Totals& b, const std::string& what) {
  EXPECT_EQ(a.reasoning, b.reasoning) << what;
  EXPECT_EQ(a.content, b.content) << what;
  ASSERT_EQ(a.calls.size(), b.calls.size()) << what;
  for (size_t i = 0; i < a.calls.size(); ++i) {
    EXPECT_EQ(a.calls[i].index, b.calls[i].index) << what;
    EXPECT_EQ(a.calls[i].id, b.calls[i].id) << what;
    EXPECT_EQ(a.calls[i].name, b.calls[i].name) << what;
    EXPECT_EQ(a.calls[i].arguments, b.calls[i].arguments) << what;
  }
}

// Every two-way split, then one byte at a time, against the whole text.
void expect_split_invariant(const std::string& s, bool in_reasoning) {
  const Totals whole = parse_whole(s, in_reasoning);
  for (size_t i = 0; i <= s.size(); ++i) {
    expect_same(parse({s.substr(0, i), s.substr(i)}, in_reasoning), whole, "split at " + std::to_string(i));
  }
  std::vector<std::string> bytes;
  for (char c : s) bytes.emplace_back(1, c);
  expect_same(parse(bytes, in_reasoning), whole, "byte at a time");
}

TEST(ChatOutputReasoning, StartsInReasoning) {
  const Totals t = parse_whole("Let me think.\n2+2=4\n</think>\n\nThe answer is 4.", true);
  EXPECT_EQ(t.reasoning, "Let me think.\n2+2=4\n");
  EXPECT_EQ(t.content, "The answer is 4.");
  EXPECT_TRUE(t.calls.empty());
}

TEST(ChatOutputReasoning, OpenedByTheModel) {
  const Totals t = parse_whole(" \n<think>\nhmm</think>\nok");
  EXPECT_EQ(t.reasoning, "hmm");
  EXPECT_EQ(t.content, "ok");
}

TEST(ChatOutputReasoning, StrayThinkDroppedWhenAlreadyReasoning) {
  const Totals t = parse_whole("<think>\nhmm</think>ok", true);
  EXPECT_EQ(t.reasoning, "hmm");
  EXPECT_EQ(t.content, "ok");
}

TEST(ChatOutputReasoning, NoThinkMeansContent) {
  const Totals t = parse_whole("  Hello <think>x</think>");
  EXPECT_EQ(t.reasoning, "");
  EXPECT_EQ(t.content, "  Hello <think>x</think>");
}

TEST(ChatOutputReasoning, StreamEndsInsideReasoning) {
  EXPECT_EQ(parse_whole("still thinking </thi", true).reasoning, "still thinking </thi");
  EXPECT_EQ(parse_whole("<think>partial").reasoning, "partial");
  EXPECT_EQ(parse_whole("<think>partial").content, "");
  const Totals t = parse_whole("<thi");  // never became <think>
  EXPECT_EQ(t.content, "<thi");
  EXPECT_EQ(t.reasoning, "");
}

TEST(ChatOutputReasoning, OnlyWhitespace) {
  EXPECT_EQ(parse_whole(" \n ").content, " \n ");
  EXPECT_EQ(parse_whole("\n\n", true).reasoning, "");
}

TEST(ChatOutputToolsV3, SingleCallAfterContent) {
  const std::string text =
      "Let me check." + kCallsBegin + v3_call("get_weather", "{\"location\": \"Tokyo\", \"unit\": \"c\"}") + kCallsEnd;
  const Totals t = parse_whole(text);
  EXPECT_EQ(t.content, "Let me check.");
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].index, 0);
  EXPECT_EQ(t.calls[0].name, "get_weather");
  EXPECT_EQ(t.calls[0].arguments, "{\"location\":\"Tokyo\",\"unit\":\"c\"}");
  EXPECT_TRUE(std::regex_match(t.calls[0].id, std::regex("call_[0-9a-f]{24}"))) << t.calls[0].id;
}

TEST(ChatOutputToolsV3, MultipleCalls) {
  const std::string text = kCallsBegin + v3_call("a", "{\"x\": 1}") + "\n" + v3_call("b", "{}") +
                           v3_call("c_2", "{\n  \"s\": \"q \\\" w\",\n  \"n\": [1, 2.5e-3]\n}") + kCallsEnd;
  const Totals t = parse_whole(text);
  EXPECT_EQ(t.content, "");
  ASSERT_EQ(t.calls.size(), 3u);
  EXPECT_EQ(t.calls[0].name, "a");
  EXPECT_EQ(t.calls[0].arguments, "{\"x\":1}");
  EXPECT_EQ(t.calls[1].name, "b");
  EXPECT_EQ(t.calls[1].arguments, "{}");
  EXPECT_EQ(t.calls[2].name, "c_2");
  EXPECT_EQ(t.calls[2].arguments, "{\"s\":\"q \\\" w\",\"n\":[1,2.5e-3]}");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t.calls[static_cast<size_t>(i)].index, i);
  EXPECT_NE(t.calls[0].id, t.calls[1].id);
  EXPECT_NE(t.calls[1].id, t.calls[2].id);
}

TEST(ChatOutputToolsV31, SingleAndMultipleCalls) {
  const Totals one = parse_whole(kCallsBegin + v31_call("search", "{\"q\": \"dseek\"}") + kCallsEnd);
  EXPECT_EQ(one.content, "");
  ASSERT_EQ(one.calls.size(), 1u);
  EXPECT_EQ(one.calls[0].name, "search");
  EXPECT_EQ(one.calls[0].arguments, "{\"q\":\"dseek\"}");

  const Totals two = parse_whole("Sure. " + kCallsBegin + v31_call("f", "{\"a\":[true,false,null]}") +
                                 v31_call("function", "{\"b\": {}}") + kCallsEnd);
  EXPECT_EQ(two.content, "Sure. ");
  ASSERT_EQ(two.calls.size(), 2u);
  EXPECT_EQ(two.calls[0].name, "f");
  EXPECT_EQ(two.calls[0].arguments, "{\"a\":[true,false,null]}");
  EXPECT_EQ(two.calls[1].name, "function");  // V3.1 call of a tool named "function"
  EXPECT_EQ(two.calls[1].arguments, "{\"b\":{}}");
  EXPECT_EQ(two.calls[1].index, 1);
}

TEST(ChatOutputTools, ReasoningContentAndCalls) {
  const std::string text = "Need weather.</think>\n\nChecking." + kCallsBegin + v3_call("w", "{\"c\": \"Paris\"}") +
                           kCallsEnd;
  const Totals t = parse_whole(text, true);
  EXPECT_EQ(t.reasoning, "Need weather.");
  EXPECT_EQ(t.content, "Checking.");
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].arguments, "{\"c\":\"Paris\"}");
}

TEST(ChatOutputTools, CallsWithoutBlockEndStand) {
  const Totals t = parse_whole(kCallsBegin + v31_call("f", "{}") + "\n");
  EXPECT_EQ(t.content, "");
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].name, "f");
}

TEST(ChatOutputTools, TextAfterBlockIsContent) {
  const Totals t = parse_whole("A" + kCallsBegin + v31_call("f", "{}") + kCallsEnd + "B");
  EXPECT_EQ(t.content, "AB");
  EXPECT_EQ(t.calls.size(), 1u);
}

TEST(ChatOutputTools, ArgumentsKeepNumbersKeyOrderAndEscapes) {
  const Totals t = parse_whole(kCallsBegin + v31_call("f", "{ \"z\" : 1.50E+3 , \"a\" : \"\\u00e9 \\n\" }") + kCallsEnd);
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].arguments, "{\"z\":1.50E+3,\"a\":\"\\u00e9 \\n\"}");
}

TEST(ChatOutputTools, IdsDependOnSeedOnly) {
  const std::string text = kCallsBegin + v31_call("f", "{}") + v31_call("g", "{}") + kCallsEnd;
  const Totals a = parse({text}, false, 1), b = parse({text}, false, 1), c = parse({text}, false, 2);
  ASSERT_EQ(a.calls.size(), 2u);
  ASSERT_EQ(c.calls.size(), 2u);
  EXPECT_EQ(a.calls[0].id, b.calls[0].id);
  EXPECT_EQ(a.calls[1].id, b.calls[1].id);
  EXPECT_NE(a.calls[0].id, c.calls[0].id);
  EXPECT_EQ(a.calls[0].id.size(), 29u);
}

TEST(ChatOutputTools, DeeplyNestedArgumentsDoNotRecurse) {
  const std::string args = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  const Totals t = parse_whole(kCallsBegin + v31_call("f", args) + kCallsEnd);
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].arguments, args);
}

// Malformed markup: the raw text comes back as content, byte-exact.
TEST(ChatOutputMalformed, BadJsonBecomesContent) {
  const std::string raw = kCallsBegin + v3_call("f", "{\"a\": 1,}") + kCallsEnd;
  const Totals t = parse_whole("x" + raw);
  EXPECT_EQ(t.content, "x" + raw);
  EXPECT_TRUE(t.calls.empty());
}

TEST(ChatOutputMalformed, NonObjectArgumentsBecomeContent) {
  const std::string raw = kCallsBegin + v31_call("f", "[1, 2]") + kCallsEnd;
  EXPECT_EQ(parse_whole(raw).content, raw);
}

TEST(ChatOutputMalformed, MissingSeparatorBecomesContent) {
  const std::string raw = kCallsBegin + kCallBegin + "f{\"a\":1}" + kCallEnd + kCallsEnd;
  const Totals t = parse_whole(raw);
  EXPECT_EQ(t.content, raw);
  EXPECT_TRUE(t.calls.empty());
}

TEST(ChatOutputMalformed, BadNameBecomesContent) {
  const std::string raw = kCallsBegin + v31_call("my tool", "{}") + kCallsEnd;
  EXPECT_EQ(parse_whole(raw).content, raw);
}

TEST(ChatOutputMalformed, StreamEndsMidCall) {
  const std::string raw = kCallsBegin + kCallBegin + "function" + kSep + "f\n```json\n{\"a\":";
  const Totals t = parse_whole("Hi " + raw);
  EXPECT_EQ(t.content, "Hi " + raw);
  EXPECT_TRUE(t.calls.empty());
  const std::string cut = kCallsBegin + kCallBegin + "f" + kSep + "{}<｜tool▁call";
  EXPECT_EQ(parse_whole(cut).content, cut);
}

TEST(ChatOutputMalformed, UnknownTextBetweenCalls) {
  const std::string good = v31_call("f", "{}");
  const std::string tail = "oops" + v31_call("g", "{}") + kCallsEnd + " done";
  const Totals t = parse_whole(kCallsBegin + good + "\n" + tail);
  ASSERT_EQ(t.calls.size(), 1u);  // the first call stands; the rest is raw text
  EXPECT_EQ(t.calls[0].name, "f");
  EXPECT_EQ(t.content, "\n" + tail);
  const std::string early = kCallsBegin + "hello" + good + kCallsEnd;
  const Totals u = parse_whole(early);
  EXPECT_EQ(u.content, early);
  EXPECT_TRUE(u.calls.empty());
}

TEST(ChatOutputMalformed, EmptyOrUnterminatedBlock) {
  EXPECT_EQ(parse_whole(kCallsBegin + kCallsEnd).content, kCallsBegin + kCallsEnd);
  EXPECT_EQ(parse_whole("a" + kCallsBegin + " ").content, "a" + kCallsBegin + " ");
}

TEST(ChatOutputMalformed, LaterBlockStillParses) {
  const std::string bad = kCallsBegin + v31_call("f", "{bad}") + kCallsEnd;
  const Totals t = parse_whole(bad + "\n" + kCallsBegin + v31_call("g", "{\"k\":2}") + kCallsEnd);
  EXPECT_EQ(t.content, bad + "\n");
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].name, "g");
  EXPECT_EQ(t.calls[0].index, 0);
}

TEST(ChatOutputMalformed, OversizedCallBecomesContent) {
  const std::string raw = kCallsBegin + v31_call("f", "{\"a\":\"" + std::string((1 << 20) + 10, 'x') + "\"}");
  const Totals t = parse_whole(raw);
  EXPECT_EQ(t.content, raw);
  EXPECT_TRUE(t.calls.empty());
}

TEST(ChatOutputStreaming, HoldsBackOnlyPossibleMarkers) {
  ChatOutputParser p;
  EXPECT_EQ(p.feed("Hel").content, "Hel");  // cannot be <think>: emitted at once
  EXPECT_EQ(p.feed("lo <｜tool").content, "lo ");
  EXPECT_EQ(p.feed("kit>").content, "<｜toolkit>");
  const ChatOutputDelta d = p.feed(kCallsBegin + v31_call("f", "{}"));
  EXPECT_EQ(d.content, "");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].name, "f");
  EXPECT_TRUE(p.feed(kCallsEnd).empty());
  EXPECT_TRUE(p.finish().empty());
  EXPECT_EQ(p.content(), "Hello <｜toolkit>");
}

TEST(ChatOutputStreaming, ReasoningStreamsBeforeClose) {
  ChatOutputParser p(true);
  EXPECT_EQ(p.feed("abc</th").reasoning, "abc");
  const ChatOutputDelta d = p.feed("ink>\nxyz");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "xyz");
}

TEST(ChatOutputStreaming, DeltasAreWholeUtf8Characters) {
  ChatOutputParser p;
  const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600
  EXPECT_EQ(p.feed("a").content, "a");
  EXPECT_EQ(p.feed(emoji.substr(0, 1)).content, "");
  EXPECT_EQ(p.feed(emoji.substr(1, 2)).content, "");
  EXPECT_EQ(p.feed(emoji.substr(3)).content, emoji);
  EXPECT_EQ(p.feed("\xE0\xB8").content, "");
  EXPECT_EQ(p.finish().content, "\xE0\xB8");  // incomplete at the end: flushed as is
}

TEST(ChatOutputUtf8, PassesThroughByteExact) {
  const std::string thai = "สวัสดีครับ", cjk = "你好，世界。日本語", emoji = "👍🏽🎉";
  const Totals t = parse_whole(thai + "</think>\n" + cjk + emoji + kCallsBegin +
                                   v3_call("say", "{\"text\": \"" + thai + emoji + "\"}") + kCallsEnd,
                               true);
  EXPECT_EQ(t.reasoning, thai);
  EXPECT_EQ(t.content, cjk + emoji);
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].arguments, "{\"text\":\"" + thai + emoji + "\"}");
}

TEST(ChatOutputSplits, EveryPositionGivesTheSameTotals) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"Let me think.\n</think>\n\nThe answer is 4.", true},
      {" <think>\nr</think>c", false},
      {"Let me check." + kCallsBegin + v3_call("get_weather", "{\"location\": \"Tokyo\"}") + "\n" +
           v3_call("b", "{}") + kCallsEnd,
       false},
      {"思考中</think>\n\n" + kCallsBegin + v31_call("f", "{\"a\": \"ก😀\"}") + v31_call("g", "{}") + kCallsEnd + "!",
       true},
      {kCallsBegin + v3_call("f", "{\"a\": 1,}") + kCallsEnd + "tail", false},
      {kCallsBegin + v31_call("f", "{}") + "junk" + kCallBegin, false},
      {kCallsBegin + kCallBegin + "f" + kSep + "{\"a\":1", false},
      {"<thi", false},
      {"<｜tool▁calls▁beg", false},
  };
  for (const auto& [text, in_reasoning] : cases) {
    SCOPED_TRACE(text);
    expect_split_invariant(text, in_reasoning);
  }
}

}  // namespace
}  // namespace dseek

namespace dseek {
namespace {

// Issue 16, failure 3: what the request allows decides what becomes a tool call.
std::vector<ToolCall> calls_with(const ToolParsing& t, const std::string& text, std::string* content) {
  ChatOutputParser p(false, 1, t);
  (void)p.feed(text);
  (void)p.finish();
  *content = p.content();
  return p.tool_calls();
}

const std::string kBlock = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{}<｜tool▁call▁end｜>"
                           "<｜tool▁call▁begin｜>g<｜tool▁sep｜>{\"a\":1}<｜tool▁call▁end｜><｜tool▁calls▁end｜>";

TEST(ChatOutputToolParsing, NoToolsLeavesMarkupAsContent) {
  std::string content;
  EXPECT_TRUE(calls_with(ToolParsing{false, {}, SIZE_MAX}, "x" + kBlock, &content).empty());
  EXPECT_EQ(content, "x" + kBlock);
}

TEST(ChatOutputToolParsing, UndeclaredNamesAreNotCalls) {
  std::string content;
  const auto calls = calls_with(ToolParsing{true, {"g"}, SIZE_MAX}, kBlock, &content);
  EXPECT_TRUE(calls.empty());  // the block breaks at the undeclared "f": all of it is text
  EXPECT_EQ(content, kBlock);
  const auto only_g = calls_with(ToolParsing{true, {"f", "g"}, SIZE_MAX}, kBlock, &content);
  EXPECT_EQ(only_g.size(), 2u);
}

TEST(ChatOutputToolParsing, ParallelFalseKeepsOneCall) {
  std::string content;
  const auto calls = calls_with(ToolParsing{true, {}, 1}, kBlock, &content);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].name, "f");
  EXPECT_NE(content.find("g<｜tool▁sep｜>"), std::string::npos);
}

}  // namespace
}  // namespace dseek

namespace dseek {
namespace {

// DeepSeek-V3.2's DSML calls, as its encoding renders them after the content.
const std::string kDsmlBlock =
    "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"location\" string=\"true\">New \"York\"\n2</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"opts\" string=\"false\">{\"a\": [1, 2.50]}</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"now\">\n\n</｜DSML｜invoke>\n</｜DSML｜function_calls>";

TEST(ChatOutputToolsDsml, ParametersBecomeJsonArguments) {
  const Totals t = parse_whole("Let me look." + kDsmlBlock);
  EXPECT_EQ(t.content, "Let me look.\n\n");
  ASSERT_EQ(t.calls.size(), 2u);
  EXPECT_EQ(t.calls[0].name, "get_weather");
  EXPECT_EQ(t.calls[0].arguments, "{\"location\":\"New \\\"York\\\"\\n2\",\"days\":3,\"opts\":{\"a\":[1,2.50]}}");
  EXPECT_EQ(t.calls[1].name, "now");
  EXPECT_EQ(t.calls[1].arguments, "{}");
  EXPECT_EQ(t.calls[1].index, 1);
}

TEST(ChatOutputToolsDsml, ReasoningThenCalls) {
  const Totals t = parse_whole("Need weather.</think>" + kDsmlBlock, true);
  EXPECT_EQ(t.reasoning, "Need weather.");
  EXPECT_EQ(t.calls.size(), 2u);
}

TEST(ChatOutputToolsDsml, MalformedBlocksStayContent) {
  const std::string bad_json = "<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n"
                               "<｜DSML｜parameter name=\"n\" string=\"false\">{oops</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>";
  Totals t = parse_whole(bad_json);
  EXPECT_TRUE(t.calls.empty());
  EXPECT_EQ(t.content, bad_json);
  const std::string twice = "<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n"
                            "<｜DSML｜parameter name=\"k\" string=\"true\">a</｜DSML｜parameter>\n"
                            "<｜DSML｜parameter name=\"k\" string=\"true\">b</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>";
  t = parse_whole(twice);
  EXPECT_TRUE(t.calls.empty());
  EXPECT_EQ(t.content, twice);
}

TEST(ChatOutputToolsDsml, SplitInvariant) {
  expect_split_invariant("ok" + kDsmlBlock + "\ntail", false);
  expect_split_invariant("r</think>" + kDsmlBlock, true);
  expect_split_invariant("<｜DSML｜function_ca", false);
}

TEST(ChatOutputToolsDsml, RequestRulesApply) {
  std::string content;
  EXPECT_TRUE(calls_with(ToolParsing{false, {}, SIZE_MAX}, kDsmlBlock, &content).empty());  // tool_choice none
  EXPECT_EQ(content, kDsmlBlock);
  EXPECT_EQ(calls_with(ToolParsing{true, {"get_weather", "now"}, 1}, kDsmlBlock, &content).size(), 1u);
}

}  // namespace
}  // namespace dseek

namespace dseek {
namespace {

struct Streamed {
  std::vector<ToolCallPart> parts;
  std::vector<ToolCall> calls;
  std::string content;
};

Streamed stream_bytes(const std::string& text, bool stream_arguments) {
  ToolParsing t;
  t.stream_arguments = stream_arguments;
  ChatOutputParser p(false, 3, t);
  Streamed s;
  auto add = [&](ChatOutputDelta d) {
    s.parts.insert(s.parts.end(), d.tool_call_parts.begin(), d.tool_call_parts.end());
    s.calls.insert(s.calls.end(), d.tool_calls.begin(), d.tool_calls.end());
    s.content += d.content;
  };
  for (char c : text) add(p.feed(std::string(1, c)));
  add(p.finish());
  return s;
}

std::string joined_arguments(const Streamed& s, int index) {
  std::string a;
  for (const auto& p : s.parts)
    if (p.index == index) a += p.arguments;
  return a;
}

// Issue 16 item 1: with the calls held by a grammar, arguments go out as generated.
TEST(ChatOutputStreamedCalls, JsonArgumentsArriveAsGenerated) {
  const std::string text = kCallsBegin + v3_call("get_weather", "{\"city\": \"Paris\", \"days\": [1, 2]}") + kCallsEnd;
  const Streamed s = stream_bytes(text, true);
  ASSERT_EQ(s.calls.size(), 1u);
  ASSERT_GE(s.parts.size(), 10u);  // one part per byte of arguments, roughly
  EXPECT_EQ(s.parts[0].name, "get_weather");
  EXPECT_EQ(s.parts[0].id, s.calls[0].id);
  EXPECT_EQ(s.parts[0].arguments, "");
  EXPECT_EQ(joined_arguments(s, 0), s.calls[0].arguments);
  EXPECT_EQ(s.calls[0].arguments, "{\"city\":\"Paris\",\"days\":[1,2]}");
  // Without streaming a call comes in two parts (head, whole arguments) when complete.
  const Streamed whole = stream_bytes(text, false);
  ASSERT_EQ(whole.parts.size(), 2u);
  EXPECT_EQ(whole.parts[1].arguments, whole.calls[0].arguments);
}

TEST(ChatOutputStreamedCalls, DsmlParameterByParameter) {
  const Streamed s = stream_bytes("x" + kDsmlBlock, true);
  ASSERT_EQ(s.calls.size(), 2u);
  std::vector<std::string> fragments;
  for (const auto& p : s.parts)
    if (p.index == 0 && p.name.empty()) fragments.push_back(p.arguments);
  EXPECT_EQ(fragments, (std::vector<std::string>{"{\"location\":\"New \\\"York\\\"\\n2\"", ",\"days\":3", ",\"opts\":{\"a\":[1,2.50]}", "}"}));
  EXPECT_EQ(joined_arguments(s, 1), "{}");
}

TEST(ChatOutputStreamedCalls, ACutOffCallStandsAsSent) {
  const Streamed s = stream_bytes(kCallsBegin + kCallBegin + "f" + kSep + "{\"a\": [1, 2", true);
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_EQ(s.calls[0].arguments, "{\"a\":[1,2");
  EXPECT_EQ(joined_arguments(s, 0), s.calls[0].arguments);
  EXPECT_EQ(s.content, "");
  // Unstreamed, the same text is given back as content.
  EXPECT_TRUE(stream_bytes(kCallsBegin + kCallBegin + "f" + kSep + "{\"a\": [1, 2", false).calls.empty());
}

}  // namespace
}  // namespace dseek

namespace dseek {
namespace {

// DeepSeek-V4's block is V3.2's with the name tool_calls (runtime/dsml_encoding.h).
const std::string kV4Block =
    "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"location\" string=\"true\">Beijing</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"now\">\n\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>";

TEST(ChatOutputToolsDsmlV4, ToolCallsBlockParses) {
  const Totals t = parse_whole("Checking.</think>" + kV4Block, true);
  EXPECT_EQ(t.reasoning, "Checking.");
  ASSERT_EQ(t.calls.size(), 2u);
  EXPECT_EQ(t.calls[0].name, "get_weather");
  EXPECT_EQ(t.calls[0].arguments, "{\"location\":\"Beijing\",\"days\":3}");
  EXPECT_EQ(t.calls[1].name, "now");
  EXPECT_EQ(t.calls[1].arguments, "{}");
}

TEST(ChatOutputToolsDsmlV4, SplitInvariant) {
  expect_split_invariant("ok" + kV4Block + "\ntail", false);
  expect_split_invariant("<｜DSML｜tool_ca", false);
}

}  // namespace
}  // namespace dseek
