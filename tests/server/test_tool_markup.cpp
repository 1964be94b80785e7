// Tool-call grammars from the markup table: the V3 and V3.1 forms, declared
// names only, strict parameter schemas, parallel_tool_calls; and the
// system-prompt section for templates that do not render tools.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/json_schema_checker.h"
#include "server/tool_markup.h"

namespace dseek {
namespace {

using nlohmann::json;

const json kTools = json::parse(R"([
  {"type":"function","function":{"name":"get_weather","strict":true,"parameters":{"type":"object",
    "properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city","unit"],"additionalProperties":false}}},
  {"type":"function","function":{"name":"search","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}])");

const ToolMarkup& v31() {
  static const ToolMarkup m{"v3.1", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>"};
  return m;
}

bool accepts(const Grammar& g, const std::string& text) {
  GrammarState s(g);
  return s.feed(text) && s.complete();
}

TEST(ToolGrammar, V31CallsHoldNamesAndStrictArguments) {
  auto g = tool_call_grammar(ToolGrammarSpec{kTools, {"get_weather", "search"}, true, true}, v31());
  ASSERT_TRUE(g.ok()) << g.message();
  const std::string end = "<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  EXPECT_TRUE(accepts(**g, "get_weather<｜tool▁sep｜>{\"city\":\"Paris\",\"unit\":\"c\"}" + end));
  EXPECT_FALSE(accepts(**g, "get_weather<｜tool▁sep｜>{\"city\":\"Paris\"}" + end));  // strict: unit required
  EXPECT_TRUE(accepts(**g, "search<｜tool▁sep｜>{\"q\":1,\"other\":[]}" + end));       // not strict: any object
  EXPECT_FALSE(accepts(**g, "lookup<｜tool▁sep｜>{}" + end));                           // undeclared
  EXPECT_TRUE(accepts(**g, "search<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁call▁begin｜>search<｜tool▁sep｜>{}" + end));
}

TEST(ToolGrammar, ParallelFalseAllowsOneCall) {
  auto g = tool_call_grammar(ToolGrammarSpec{kTools, {"search"}, false, true}, v31());
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(accepts(**g, "search<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"));
  GrammarState s(**g);
  ASSERT_TRUE(s.feed("search<｜tool▁sep｜>{}<｜tool▁call▁end｜>"));
  EXPECT_FALSE(s.accepts("<｜tool▁call▁begin｜>"));
}

TEST(ToolGrammar, V3FormWithFence) {
  const ToolMarkup& v3 = default_tool_markup();
  auto g = tool_call_grammar(ToolGrammarSpec{kTools, {"search"}, false, false}, v3);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(accepts(**g, "<｜tool▁call▁begin｜>function<｜tool▁sep｜>search\n```json\n{\"q\":\"x\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"));
}

TEST(ToolGrammar, UnenforceableStrictSchemaIsAnError) {
  json tools = kTools;
  tools[0]["function"]["parameters"]["properties"]["city"]["pattern"] = "^[A-Z]";
  EXPECT_FALSE(tool_call_grammar(ToolGrammarSpec{tools, {"get_weather"}, true, true}, v31()).ok());
}

TEST(ToolPrompt, SectionNamesEveryToolAndTheFormat) {
  const json msgs = json::array({{{"role", "user"}, {"content", "hi"}}});
  const json out = with_tool_system_prompt(msgs, kTools, v31());
  ASSERT_EQ(out.size(), 2u);
  const std::string sys = out[0]["content"];
  EXPECT_EQ(out[0]["role"], "system");
  EXPECT_NE(sys.find("### get_weather"), std::string::npos);
  EXPECT_NE(sys.find("### search"), std::string::npos);
  EXPECT_NE(sys.find("\"enum\":[\"c\",\"f\"]"), std::string::npos);
  EXPECT_NE(sys.find("tool_call_name<｜tool▁sep｜>tool_call_arguments"), std::string::npos);
}

const ToolMarkup& dsml() {
  static const ToolMarkup m{"v3.2", "<｜DSML｜function_calls>", "\n<｜DSML｜invoke name=\"", "\">\n", "\n</｜DSML｜invoke>",
                            "\n</｜DSML｜function_calls>", ToolArguments::kDsml};
  return m;
}

std::string param(const std::string& k, bool str, const std::string& v) {
  return "<｜DSML｜parameter name=\"" + k + "\" string=\"" + (str ? "true" : "false") + "\">" + v + "</｜DSML｜parameter>";
}

TEST(ToolGrammarDsml, AnyParametersWhenNotStrict) {
  auto g = tool_call_grammar(ToolGrammarSpec{kTools, {"search"}, true, true}, dsml());
  ASSERT_TRUE(g.ok()) << g.message();
  const std::string end = "\n</｜DSML｜invoke>\n</｜DSML｜function_calls>";
  EXPECT_TRUE(accepts(**g, "search\">\n" + end));                                                      // no parameters
  EXPECT_TRUE(accepts(**g, "search\">\n" + param("q", true, "a </b> \"c\"\n") + end));               // raw text
  EXPECT_TRUE(accepts(**g, "search\">\n" + param("q", true, "x") + "\n" + param("n", false, " [1, {\"a\": null}]") + end));
  EXPECT_FALSE(accepts(**g, "search\">\n" + param("n", false, "[1,") + end));                           // not JSON
  EXPECT_FALSE(accepts(**g, "get_weather\">\n" + end));                                                 // not callable
  EXPECT_TRUE(accepts(**g, "search\">\n\n</｜DSML｜invoke>\n<｜DSML｜invoke name=\"search\">\n" + end));  // parallel
}

TEST(ToolGrammarDsml, StrictParametersFollowTheSchema) {
  auto g = tool_call_grammar(ToolGrammarSpec{kTools, {"get_weather"}, false, true}, dsml());
  ASSERT_TRUE(g.ok()) << g.message();
  const std::string end = "\n</｜DSML｜invoke>\n</｜DSML｜function_calls>";
  // Properties in the schema's order (city, unit); city raw text, unit an enum as JSON.
  EXPECT_TRUE(accepts(**g, "get_weather\">\n" + param("city", true, "Paris") + "\n" + param("unit", false, "\"c\"") + end));
  EXPECT_FALSE(accepts(**g, "get_weather\">\n" + param("city", true, "Paris") + end));                            // unit required
  EXPECT_FALSE(accepts(**g, "get_weather\">\n" + param("city", true, "P") + "\n" + param("unit", false, "\"k\"") + end));
  EXPECT_FALSE(accepts(**g, "get_weather\">\n" + param("city", false, "1") + "\n" + param("unit", false, "\"c\"") + end));
  GrammarState s(**g);
  ASSERT_TRUE(s.feed("get_weather\">\n" + param("city", true, "P") + "\n" + param("unit", false, "\"c\"") + "\n</｜DSML｜invoke>"));
  EXPECT_FALSE(s.accepts("\n<｜DSML｜invoke"));  // parallel_tool_calls false
}

// tool_choice auto where calls_begin is several tokens (DSML): the grammar holds
// the reply from its start; free text may end it or open the calls block.
TEST(ToolGrammarDsml, TextFirstEndsOrOpensTheCalls) {
  ToolGrammarSpec spec{kTools, {"get_weather", "search"}, true, false};
  spec.text_first = true;
  auto g = tool_call_grammar(spec, dsml());
  ASSERT_TRUE(g.ok()) << g.message();
  const std::string open = "<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"";
  const std::string end = "\n</｜DSML｜invoke>\n</｜DSML｜function_calls>";
  EXPECT_TRUE(accepts(**g, ""));  // an empty reply
  EXPECT_TRUE(accepts(**g, "It is sunny, <b>no</b> call needed."));
  EXPECT_TRUE(accepts(**g, "Let me look.\n\n" + open + "get_weather\">\n" + param("city", true, "Paris") + "\n" +
                               param("unit", false, "\"c\"") + end));
  EXPECT_FALSE(accepts(**g, "x" + open + "get_weather\">\n" + param("city", true, "Paris") + end));  // strict: unit required
  EXPECT_FALSE(accepts(**g, open + "launch\">\n" + end));                                              // undeclared
  EXPECT_FALSE(accepts(**g, "x" + open + "search\">\n" + end + " more"));                               // the calls end the reply
  GrammarState s(**g);
  ASSERT_TRUE(s.feed("Hi " + open.substr(0, 8)));
  EXPECT_TRUE(s.complete());  // a partial opener is still text
}

// Strict DSML parameters come in the schema's order as the request gives it (not sorted).
TEST(ToolGrammarDsml, StrictParametersInTheRequestsOrder) {
  const auto tools = nlohmann::ordered_json::parse(R"([{"type":"function","function":{"name":"f","strict":true,
    "parameters":{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"string"}},"required":["zeta","alpha"],
    "additionalProperties":false}}}])");
  auto g = tool_call_grammar(ToolGrammarSpec{tools, {"f"}, false, true}, dsml());
  ASSERT_TRUE(g.ok()) << g.message();
  const std::string end = "\n</｜DSML｜invoke>\n</｜DSML｜function_calls>";
  EXPECT_TRUE(accepts(**g, "f\">\n" + param("zeta", true, "z") + "\n" + param("alpha", true, "a") + end));
  EXPECT_FALSE(accepts(**g, "f\">\n" + param("alpha", true, "a") + "\n" + param("zeta", true, "z") + end));
}

TEST(ToolGrammarDsml, RawTextFallsBackOnPartialTerminators) {
  Grammar g;
  g.root = g.raw_until("abab");
  EXPECT_TRUE(accepts(g, "xabaabab"));
  EXPECT_TRUE(accepts(g, "abaabab"));
  EXPECT_TRUE(accepts(g, "abab"));
  EXPECT_FALSE(GrammarState(g).accepts("ababa"));  // done after "abab": nothing may follow
  GrammarState s(g);
  ASSERT_TRUE(s.feed("aba"));
  EXPECT_FALSE(s.complete());
}

}  // namespace
}  // namespace dseek

namespace dseek {
namespace {

// V4's encoding renders the tool_calls block: the server finds the V4 markup by probing it.
TEST(ToolMarkupV4, DetectedFromTheV4Encoding) {
  const ChatFormat v4{ChatTemplate{}, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", ChatEncoding::kDsmlV4};
  const ToolMarkup* m = detect_tool_markup(v4);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->generation, "v4");
  EXPECT_EQ(m->calls_begin, "<｜DSML｜tool_calls>");
  EXPECT_TRUE(template_renders_tools(v4));
  const ChatFormat v32{ChatTemplate{}, "", "", ChatEncoding::kDsml};
  ASSERT_NE(detect_tool_markup(v32), nullptr);
  EXPECT_EQ(detect_tool_markup(v32)->generation, "v3.2");
}

}  // namespace
}  // namespace dseek
