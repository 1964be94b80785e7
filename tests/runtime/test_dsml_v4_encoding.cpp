// DeepSeek-V4's chat encoding (runtime/dsml_encoding.h: render_dsml_v4_chat)
// against DeepSeek's published examples (encoding/tests of the V4 model
// repositories): case 1 (thinking mode, tools, a call and its result) byte for
// byte as test_output_1.txt, case 2's rule (thinking without tools drops the
// earlier reasoning), and the rules the encoder states for the rest.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/chat_prompt.h"
#include "runtime/dsml_encoding.h"

namespace dseek {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kEos = "<｜end▁of▁sentence｜>";

std::string render(json messages, bool thinking, ordered_json tools = nullptr, json extra = json::object()) {
  ordered_json ctx = {{"messages", std::move(messages)}, {"bos_token", kBos}, {"thinking", thinking}};
  if (!tools.is_null()) ctx["tools"] = std::move(tools);
  for (auto& [k, v] : extra.items()) ctx[k] = v;
  auto r = render_dsml_v4_chat(ctx);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? *r : std::string();
}

const char* kTools = R"([
  {"type":"function","function":{"name":"get_weather","description":"Get the weather for a specific location",
   "parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city name"},
   "unit":{"type":"string","enum":["celsius","fahrenheit"],"description":"Temperature unit"}},"required":["location"]}}},
  {"type":"function","function":{"name":"search","description":"Search the web for information",
   "parameters":{"type":"object","properties":{"query":{"type":"string","description":"Search query"},
   "num_results":{"type":"integer","description":"Number of results to return"}},"required":["query"]}}}])";

const char* kCase1 = R"([
  {"role":"system","content":"You are a helpful assistant."},
  {"role":"user","content":"What's the weather in Beijing?"},
  {"role":"assistant","content":"","reasoning_content":"The user wants to know the weather in Beijing. I should use the get_weather tool.",
   "tool_calls":[{"id":"call_001","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"Beijing\", \"unit\": \"celsius\"}"}}]},
  {"role":"tool","tool_call_id":"call_001","content":"{\"temperature\": 22, \"condition\": \"sunny\", \"humidity\": 45}"},
  {"role":"assistant","content":"The weather in Beijing is currently sunny with a temperature of 22°C and 45% humidity.",
   "reasoning_content":"Got the weather data. Let me format a nice response."}])";

// encoding/tests/test_output_1.txt, written out byte for byte: the schema
// lines keep the keys in the order test_input_1.json gives them (DeepSeek's
// json.dumps has no sort_keys).
const std::string kGold1 =
    kBos + "You are a helpful assistant.\n\n## Tools\n\nYou have access to a set of tools to help answer the user's question. "
    "You can invoke tools by writing a \"<｜DSML｜tool_calls>\" block like the following:\n\n<｜DSML｜tool_calls>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME\">\n<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE"
    "</｜DSML｜parameter>\n...\n</｜DSML｜invoke>\n<｜DSML｜invoke name=\"$TOOL_NAME2\">\n...\n</｜DSML｜invoke>\n"
    "</｜DSML｜tool_calls>\n\nString parameters should be specified as is and set `string=\"true\"`. For all other types "
    "(numbers, booleans, arrays, objects), pass the value in JSON format and set `string=\"false\"`.\n\n"
    "If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside <think>...</think> "
    "BEFORE any tool calls or final response.\n\nOtherwise, output directly after </think> with tool calls or final response."
    "\n\n### Available Tool Schemas\n\n"
    "{\"name\": \"get_weather\", \"description\": \"Get the weather for a specific location\", \"parameters\": "
    "{\"type\": \"object\", \"properties\": {\"location\": {\"type\": \"string\", \"description\": \"The city name\"}, "
    "\"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}}, "
    "\"required\": [\"location\"]}}\n"
    "{\"name\": \"search\", \"description\": \"Search the web for information\", \"parameters\": {\"type\": \"object\", "
    "\"properties\": {\"query\": {\"type\": \"string\", \"description\": \"Search query\"}, \"num_results\": "
    "{\"type\": \"integer\", \"description\": \"Number of results to return\"}}, \"required\": [\"query\"]}}\n\n"
    "You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.\n"
    "<｜User｜>What's the weather in Beijing?<｜Assistant｜><think>The user wants to know the weather in Beijing. I should use "
    "the get_weather tool.</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"location\" string=\"true\">Beijing</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"unit\" string=\"true\">celsius</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" +
    kEos + "<｜User｜><tool_result>{\"temperature\": 22, \"condition\": \"sunny\", \"humidity\": 45}</tool_result>"
    "<｜Assistant｜><think>Got the weather data. Let me format a nice response.</think>The weather in Beijing is currently "
    "sunny with a temperature of 22°C and 45% humidity." + kEos;

TEST(DsmlV4Encoding, PublishedCase1ThinkingWithTools) {
  EXPECT_EQ(render(json::parse(kCase1), true, ordered_json::parse(kTools), {{"add_generation_prompt", false}}), kGold1);
}

// Case 2's rule: thinking mode without tools drops the reasoning of turns before
// the last user message (and their </think>); the last user turn opens <think>.
TEST(DsmlV4Encoding, ThinkingWithoutToolsDropsEarlierReasoning) {
  const json msgs = json::parse(R"([
    {"role":"system","content":"S"},
    {"role":"user","content":"Hello"},
    {"role":"assistant","content":"Hi!","reasoning_content":"The user said hello."},
    {"role":"user","content":"Capital of France?"}])");
  EXPECT_EQ(render(msgs, true), kBos + "S<｜User｜>Hello<｜Assistant｜></think>Hi!" + kEos +
                                    "<｜User｜>Capital of France?<｜Assistant｜><think>");
  EXPECT_EQ(render(msgs, false), kBos + "S<｜User｜>Hello<｜Assistant｜></think>Hi!" + kEos +
                                     "<｜User｜>Capital of France?<｜Assistant｜></think>");
}

// Results of parallel calls: one user turn, blank lines between, in call order
// whatever order they came in; a user message right after joins that turn.
TEST(DsmlV4Encoding, ToolResultsMergeIntoOneUserTurnInCallOrder) {
  const json msgs = json::parse(R"([
    {"role":"user","content":"Both?"},
    {"role":"assistant","content":"","tool_calls":[
      {"id":"a","type":"function","function":{"name":"f","arguments":"{\"n\": 1}"}},
      {"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"b","content":"B"},
    {"role":"tool","tool_call_id":"a","content":"A"},
    {"role":"user","content":"thanks"}])");
  const std::string calls =
      "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"n\" string=\"false\">1</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"g\">\n\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
  EXPECT_EQ(render(msgs, false), kBos + "<｜User｜>Both?<｜Assistant｜></think>" + calls + kEos +
                                     "<｜User｜><tool_result>A</tool_result>\n\n<tool_result>B</tool_result>\n\nthanks"
                                     "<｜Assistant｜></think>");
}

// With tools, thinking mode keeps every turn's reasoning and opens <think> after every user turn.
TEST(DsmlV4Encoding, ToolsKeepAllReasoning) {
  const json msgs = json::parse(R"([
    {"role":"user","content":"a"},
    {"role":"assistant","content":"b","reasoning_content":"r1"},
    {"role":"user","content":"c"}])");
  const std::string out = render(msgs, true, json::parse(kTools));
  EXPECT_NE(out.find("<｜User｜>a<｜Assistant｜><think>r1</think>b" + kEos + "<｜User｜>c<｜Assistant｜><think>"), std::string::npos);
}

TEST(DsmlV4Encoding, LatestReminderEffortAndGenerationPrompt) {
  const json msgs = json::parse(R"([
    {"role":"system","content":"S"},
    {"role":"latest_reminder","content":"2026-02-21"},
    {"role":"user","content":"q"}])");
  const std::string effort = render(msgs, true, nullptr, {{"reasoning_effort", "max"}});
  EXPECT_EQ(effort.rfind(kBos + "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n", 0), 0u);
  EXPECT_NE(effort.find("alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\nS<｜latest_reminder｜>2026-02-21<｜User｜>q<｜Assistant｜><think>"), std::string::npos);
  EXPECT_EQ(render(msgs, false, nullptr, {{"reasoning_effort", "max"}}), kBos + "S<｜latest_reminder｜>2026-02-21<｜User｜>q<｜Assistant｜></think>");
  EXPECT_EQ(render(msgs, false, nullptr, {{"add_generation_prompt", false}}), kBos + "S<｜latest_reminder｜>2026-02-21<｜User｜>q");
}

TEST(DsmlV4Encoding, ToolsWithoutSystemMessageAndErrors) {
  const std::string out = render(json::parse(R"([{"role":"user","content":"x"}])"), false, json::parse(kTools));
  EXPECT_EQ(out.rfind(kBos + "\n\n## Tools\n\n", 0), 0u);
  auto bad = render_dsml_v4_chat({{"messages", json::parse(R"([{"role":"tool","content":"x"}])")}});
  EXPECT_FALSE(bad.ok());
  auto role = render_dsml_v4_chat({{"messages", json::parse(R"([{"role":"robot","content":"x"}])")}});
  EXPECT_FALSE(role.ok());
}

TEST(DsmlV4Encoding, AutoPicksV4ForTheV4Architecture) {
  const Result<ChatTemplateSource> none = Status::error("no template");
  EXPECT_EQ(default_chat_encoding(none, "", "deepseek-v4"), ChatEncoding::kDsmlV4);
  EXPECT_EQ(default_chat_encoding(none, "", "deepseek-v32"), ChatEncoding::kDsml);
  EXPECT_EQ(default_chat_encoding(none, "", "deepseek-v3"), ChatEncoding::kJinja);
  EXPECT_EQ(named_chat_encoding("dsml-v4"), ChatEncoding::kDsmlV4);
  EXPECT_TRUE(valid_chat_format_name("dsml-v4"));
}

}  // namespace
}  // namespace dseek
