// DeepSeek-V3.2's chat encoding (runtime/dsml_encoding.h) against the example
// conversations of DeepSeek's published encoding: the expected strings are
// written out here from the encoding's rules (roles, thinking modes, DSML
// calls, tool results, the tools section of the system prompt).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/dsml_encoding.h"

namespace dseek {
namespace {

using nlohmann::json;

const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kEos = "<｜end▁of▁sentence｜>";

std::string render(json messages, bool thinking, json tools = nullptr, bool generation_prompt = true) {
  json ctx = {{"messages", std::move(messages)}, {"bos_token", kBos}, {"thinking", thinking}, {"add_generation_prompt", generation_prompt}};
  if (!tools.is_null()) ctx["tools"] = std::move(tools);
  auto r = render_dsml_chat(ctx);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? *r : std::string();
}

// The encoding's README example: an earlier turn's reasoning is dropped, the last
// user turn opens the reasoning.
TEST(DsmlEncoding, ThinkingModeDropsEarlierReasoning) {
  const json msgs = json::parse(R"([
    {"role":"system","content":"You are a helpful assistant."},
    {"role":"user","content":"hello"},
    {"role":"assistant","content":"Hello! I am DeepSeek.","reasoning_content":"thinking..."},
    {"role":"user","content":"1+1=?"}])");
  EXPECT_EQ(render(msgs, true), kBos + "You are a helpful assistant.<｜User｜>hello<｜Assistant｜></think>Hello! I am DeepSeek." + kEos +
                                    "<｜User｜>1+1=?<｜Assistant｜><think>");
  EXPECT_EQ(render(msgs, false), kBos + "You are a helpful assistant.<｜User｜>hello<｜Assistant｜></think>Hello! I am DeepSeek." + kEos +
                                     "<｜User｜>1+1=?<｜Assistant｜></think>");
}

const char* kCallTurn = R"([
  {"role":"user","content":"Weather in Hangzhou?"},
  {"role":"assistant","content":"","reasoning_content":"Need the weather.","tool_calls":[
    {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"Hangzhou\", \"days\": 3, \"units\": [\"c\"]}"}}]},
  {"role":"tool","tool_call_id":"call_1","content":"Sunny, 24C"}])";

const std::string kCall =
    "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"location\" string=\"true\">Hangzhou</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"units\" string=\"false\">[\"c\"]</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n</｜DSML｜function_calls>";

// A tool-call turn after the last user message keeps its reasoning in thinking
// mode; the results close with the marker that opens the model's next part.
TEST(DsmlEncoding, ToolCallTurnAndResultsBothModes) {
  const json msgs = json::parse(kCallTurn);
  const std::string results = "\n\n<function_results>\n<result>Sunny, 24C</result>\n</function_results>\n\n";
  EXPECT_EQ(render(msgs, true), kBos + "<｜User｜>Weather in Hangzhou?<｜Assistant｜><think>Need the weather.</think>" + kCall + kEos +
                                    results + "<think>");
  EXPECT_EQ(render(msgs, false), kBos + "<｜User｜>Weather in Hangzhou?<｜Assistant｜></think>" + kCall + kEos + results + "</think>");
  // Without the generation prompt the conversation ends at the results.
  EXPECT_EQ(render(msgs, false, nullptr, false),
            kBos + "<｜User｜>Weather in Hangzhou?<｜Assistant｜></think>" + kCall + kEos + results.substr(0, results.size() - 2));
}

TEST(DsmlEncoding, ParallelCallsShareOneResultsBlock) {
  const json msgs = json::parse(R"([
    {"role":"user","content":"q"},
    {"role":"assistant","content":"Checking.","tool_calls":[
      {"type":"function","function":{"name":"a","arguments":"{}"}},
      {"type":"function","function":{"name":"b","arguments":{"x":true,"s":"two\nlines"}}}]},
    {"role":"tool","content":"A"},{"role":"tool","content":"B"},
    {"role":"assistant","content":"Done."}])");
  const std::string expected = kBos + "<｜User｜>q<｜Assistant｜></think>Checking.\n\n<｜DSML｜function_calls>\n" +
                               "<｜DSML｜invoke name=\"a\">\n\n</｜DSML｜invoke>\n<｜DSML｜invoke name=\"b\">\n" +
                               "<｜DSML｜parameter name=\"s\" string=\"true\">two\nlines</｜DSML｜parameter>\n" +
                               "<｜DSML｜parameter name=\"x\" string=\"false\">true</｜DSML｜parameter>\n</｜DSML｜invoke>\n" +
                               "</｜DSML｜function_calls>" + kEos +
                               "\n\n<function_results>\n<result>A</result>\n<result>B</result>\n</function_results>\n\n</think>Done." + kEos;
  EXPECT_EQ(render(msgs, false), expected);
}

TEST(DsmlEncoding, ToolsGoToTheSystemPromptInPythonJson) {
  const json tools = json::parse(R"([{"type":"function","function":{"name":"get_weather","description":"Weather of a city",
    "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}])");
  const std::string out = render(json::parse(R"([{"role":"system","content":"S"},{"role":"user","content":"hi"}])"), false, tools);
  ASSERT_TRUE(out.starts_with(kBos + "S\n\n## Tools\n\nYou have access to a set of tools you can use to answer the user's question.\n"));
  const std::string schemas =
      "<functions>\n{\"description\": \"Weather of a city\", \"name\": \"get_weather\", \"parameters\": {\"properties\": "
      "{\"location\": {\"type\": \"string\"}}, \"required\": [\"location\"], \"type\": \"object\"}}\n</functions>\n";
  EXPECT_NE(out.find("Here are the functions available in JSONSchema format:\n" + schemas + "<｜User｜>hi<｜Assistant｜></think>"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("<think>...thinking about results</think>\n\n"), std::string::npos);
  // No system message: an empty one carries the tools.
  EXPECT_TRUE(render(json::parse(R"([{"role":"user","content":"hi"}])"), false, tools).starts_with(kBos + "\n\n## Tools\n"));
}

// DeepSeek's encoder prints each tool with json.dumps and no sort_keys: the
// keys come in the order the request gives them, at every depth.
TEST(DsmlEncoding, ToolSchemasKeepTheRequestsKeyOrder) {
  const auto tools = nlohmann::ordered_json::parse(R"([{"type":"function","function":{"name":"get_weather",
    "description":"Get the weather","parameters":{"type":"object","properties":{"unit":{"type":"string","enum":["c","f"]},
    "city":{"type":"string"}},"required":["city"]}}}])");
  nlohmann::ordered_json ctx = {{"messages", json::parse(R"([{"role":"user","content":"hi"}])")}, {"tools", tools}};
  auto r = render_dsml_chat(ctx);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_NE(r->find("<functions>\n{\"name\": \"get_weather\", \"description\": \"Get the weather\", \"parameters\": "
                    "{\"type\": \"object\", \"properties\": {\"unit\": {\"type\": \"string\", \"enum\": [\"c\", \"f\"]}, "
                    "\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}\n</functions>"),
            std::string::npos)
      << *r;
}

TEST(DsmlEncoding, DeveloperPrefixAndErrors) {
  EXPECT_EQ(render(json::parse(R"([{"role":"developer","content":"do it"}])"), true),
            kBos + "<｜User｜>\n\n# The user's message is: do it<｜Assistant｜><think>");
  EXPECT_EQ(render(json::parse(R"([{"role":"user","content":"q"},{"role":"assistant","content":"The answer is","prefix":true}])"), false),
            kBos + "<｜User｜>q<｜Assistant｜></think>The answer is");
  json ctx = {{"messages", json::parse(R"([{"role":"user","content":"q"},{"role":"tool","content":"x"}])")}};
  EXPECT_FALSE(render_dsml_chat(ctx).ok());
  ctx["messages"] = json::parse(R"([{"role":"narrator","content":"x"}])");
  EXPECT_FALSE(render_dsml_chat(ctx).ok());
  EXPECT_EQ(python_json(json::parse(R"({"a":[1,2.5,null],"b":"é\n"})")), "{\"a\": [1, 2.5, null], \"b\": \"é\\n\"}");
}

}  // namespace
}  // namespace dseek
