// `dseek template --chat-format dsml-v4`: DeepSeek-V4's encoding from the command
// line (no model needed), a call turn and its result rendered in V4's markup.
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace dseek::test {
namespace {

TEST(CliTemplateV4, RendersV4Encoding) {
  const std::string request = R"({"thinking": true, "messages": [
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": "", "reasoning_content": "Look it up.", "tool_calls": [
      {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"}], "add_generation_prompt": true})";
  const CommandResult r = run_dseek("template --chat-format dsml-v4", request);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "<｜begin▁of▁sentence｜><｜User｜>Weather?<｜Assistant｜></think>\n\n<｜DSML｜tool_calls>\n"
            "<｜DSML｜invoke name=\"get_weather\">\n<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n"
            "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜><｜User｜><tool_result>sunny</tool_result>"
            "<｜Assistant｜><think>");
  EXPECT_NE(run_dseek("template --chat-format dsml-v5", "{}").exit_code, 0);
}

// DeepSeek's encoders print each tool's schema in the order given (json.dumps
// without sort_keys); the command must not sort it on the way in.
TEST(CliTemplateV4, ToolSchemasKeepTheRequestsKeyOrder) {
  const std::string request = R"({"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"zeta": {"type": "string"}, "alpha": {"type": "string"}}}}}]})";
  for (const char* format : {"dsml", "dsml-v4"}) {
    const CommandResult r = run_dseek(std::string("template --chat-format ") + format, request);
    ASSERT_EQ(r.exit_code, 0) << format << ": " << r.err;
    const size_t zeta = r.out.find("\"zeta\""), alpha = r.out.find("\"alpha\"");
    ASSERT_NE(zeta, std::string::npos) << format << ": " << r.out;
    ASSERT_NE(alpha, std::string::npos) << format << ": " << r.out;
    EXPECT_LT(zeta, alpha) << format << ": " << r.out;
  }
}

}  // namespace
}  // namespace dseek::test
