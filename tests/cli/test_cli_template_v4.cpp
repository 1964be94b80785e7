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

}  // namespace
}  // namespace dseek::test
