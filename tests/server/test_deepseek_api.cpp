// DeepSeek's request fields, its reasoning_content rules per generation, the
// UTF-8 hold-back at a length cut, and the Anthropic Messages API translation
// and event formatting — without a model (the end-to-end checks are
// deepseek_api.mjs and anthropic_client.mjs).
#include <gtest/gtest.h>

#include "server/anthropic_request.h"
#include "server/anthropic_response.h"
#include "server/deepseek_rules.h"
#include "server/prompt_plan.h"
#include "server/request.h"

namespace dseek::server {
namespace {

using nlohmann::json;

std::variant<CompletionParams, ApiError> parse(const json& body, bool chat = true) {
  return parse_completion_request(body.dump(), chat, RequestLimits{});
}
CompletionParams ok(const json& body, bool chat = true) {
  auto r = parse(body, chat);
  EXPECT_TRUE(std::holds_alternative<CompletionParams>(r)) << (std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r).message : "");
  return std::holds_alternative<CompletionParams>(r) ? std::get<CompletionParams>(r) : CompletionParams{};
}
std::string bad_param(const json& body, bool chat = true) {
  auto r = parse(body, chat);
  EXPECT_TRUE(std::holds_alternative<ApiError>(r)) << body.dump();
  return std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r).param : "";
}
const json kUser = json::array({{{"role", "user"}, {"content", "hi"}}});

TEST(DeepSeekRequest, ThinkingAndReasoningEffortSetTheTemplateSwitch) {
  EXPECT_EQ(ok({{"messages", kUser}, {"thinking", {{"type", "enabled"}}}}).template_kwargs["thinking"], true);
  EXPECT_EQ(ok({{"messages", kUser}, {"thinking", {{"type", "disabled"}}}}).template_kwargs["thinking"], false);
  EXPECT_EQ(ok({{"messages", kUser}, {"reasoning_effort", "none"}}).template_kwargs["thinking"], false);
  const auto high = ok({{"messages", kUser}, {"reasoning_effort", "high"}});
  EXPECT_EQ(high.template_kwargs["thinking"], true);
  EXPECT_EQ(high.template_kwargs["reasoning_effort"], "high");
  // thinking wins over reasoning_effort; chat_template_kwargs over both
  EXPECT_EQ(ok({{"messages", kUser}, {"thinking", {{"type", "disabled"}}}, {"reasoning_effort", "high"}}).template_kwargs["thinking"], false);
  EXPECT_EQ(ok({{"messages", kUser}, {"thinking", {{"type", "enabled"}}}, {"chat_template_kwargs", {{"thinking", false}}}}).template_kwargs["thinking"], false);
  EXPECT_FALSE(ok({{"messages", kUser}}).template_kwargs.contains("thinking"));
  EXPECT_EQ(bad_param({{"messages", kUser}, {"thinking", {{"type", "on"}}}}), "thinking");
  EXPECT_EQ(bad_param({{"messages", kUser}, {"reasoning_effort", "extreme"}}), "reasoning_effort");
}

TEST(DeepSeekRequest, PrefixMessageMustBeTheLastAssistantOne) {
  json msgs = kUser;
  msgs.push_back({{"role", "assistant"}, {"content", "Once"}, {"prefix", true}});
  EXPECT_TRUE(ok({{"messages", msgs}}).prefix_completion);
  EXPECT_FALSE(ok({{"messages", kUser}}).prefix_completion);
  json user_prefix = json::array({{{"role", "user"}, {"content", "x"}, {"prefix", true}}});
  EXPECT_EQ(bad_param({{"messages", user_prefix}}), "messages[0].prefix");
  msgs.push_back({{"role", "user"}, {"content", "more"}});
  EXPECT_EQ(bad_param({{"messages", msgs}}), "messages[1].prefix");
}

TEST(DeepSeekRequest, PromptArraysSuffixEchoLogitBiasStopsUser) {
  const auto two = ok({{"prompt", {"a", "b"}}}, false);
  EXPECT_EQ(two.prompt_list, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(two.prompt, "a");
  const auto ids = ok({{"prompt", {{1, 2}, {3}}}}, false);
  EXPECT_TRUE(ids.prompt_is_ids);
  EXPECT_EQ(ids.prompt_id_list.size(), 2u);
  EXPECT_EQ(ok({{"prompt", {5, 6}}}, false).prompt_ids, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(bad_param({{"prompt", {"a", 1}}}, false), "prompt");
  EXPECT_EQ(bad_param({{"prompt", json::array({json::array()})}}, false), "prompt");
  const auto fim = ok({{"prompt", "def f("}, {"suffix", ")"}, {"echo", true}}, false);
  EXPECT_TRUE(fim.fim && fim.echo);
  EXPECT_EQ(fim.suffix, ")");
  EXPECT_EQ(bad_param({{"prompt", "x"}, {"suffix", 3}}, false), "suffix");
  const auto bias = ok({{"messages", kUser}, {"logit_bias", {{"42", -100}, {"7", 5.5}}}, {"user", "u"}});
  ASSERT_EQ(bias.logit_bias.size(), 2u);
  EXPECT_EQ(bad_param({{"messages", kUser}, {"logit_bias", {{"x", 1}}}}), "logit_bias");
  EXPECT_EQ(bad_param({{"messages", kUser}, {"logit_bias", {{"1", 101}}}}), "logit_bias");
  EXPECT_EQ(bad_param({{"messages", kUser}, {"user", 5}}), "user");
  EXPECT_EQ(ok({{"messages", kUser}, {"stop", json(std::vector<std::string>(16, "s"))}}).stop.size(), 16u);
}

json tool_turn(bool with_reasoning) {
  json m = {{"role", "assistant"}, {"content", ""},
            {"tool_calls", json::array({{{"id", "c"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{}"}}}}})}};
  if (with_reasoning) m["reasoning_content"] = "why";
  return m;
}

TEST(DeepSeekRules, ReasoningContentPerGeneration) {
  json msgs = json::array({{{"role", "user"}, {"content", "q"}}, {{"role", "assistant"}, {"content", "a"}, {"reasoning_content", "r"}},
                           {{"role", "user"}, {"content", "q2"}}, tool_turn(true), {{"role", "tool"}, {"tool_call_id", "c"}, {"content", "1"}}});
  json v3 = msgs;  // V3 / R1 / V3.1: every earlier reasoning is dropped
  EXPECT_FALSE(apply_reasoning_rules(generation_rules("deepseek-v3"), true, v3));
  EXPECT_FALSE(v3[1].contains("reasoning_content"));
  EXPECT_FALSE(v3[3].contains("reasoning_content"));
  json v32 = msgs;  // V3.2: the tool-call turn after the last user message keeps it
  EXPECT_FALSE(apply_reasoning_rules(generation_rules("deepseek-v3.2"), true, v32));
  EXPECT_FALSE(v32[1].contains("reasoning_content"));
  EXPECT_EQ(v32[3]["reasoning_content"], "why");
  json missing = msgs;
  missing[3] = tool_turn(false);
  auto e = apply_reasoning_rules(generation_rules("deepseek-v4"), true, missing);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("must be passed back"), std::string::npos);
  EXPECT_FALSE(apply_reasoning_rules(generation_rules("deepseek-v4"), false, missing));  // thinking off: not required
  EXPECT_FALSE(apply_reasoning_rules(generation_rules("deepseek-v3"), true, missing));
}

TEST(DeepSeekRules, IncompleteUtf8TailIsHeldBack) {
  EXPECT_EQ(complete_utf8_prefix("ab"), 2u);
  EXPECT_EQ(complete_utf8_prefix("a\xE5"), 1u);
  EXPECT_EQ(complete_utf8_prefix("a\xE5\xA5"), 1u);
  EXPECT_EQ(complete_utf8_prefix("a\xE5\xA5\xBD"), 4u);
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(complete_utf8_prefix("\xBD"), 1u);  // a stray continuation byte never completes: kept
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
}

json to_openai(const json& body, bool count = false) {
  auto r = anthropic_to_openai(body, count);
  EXPECT_TRUE(std::holds_alternative<json>(r)) << (std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r).message : "");
  return std::holds_alternative<json>(r) ? std::get<json>(r) : json();
}

TEST(AnthropicRequest, TranslatesBlocksToolsAndThinking) {
  const json body = {
      {"model", "m"}, {"max_tokens", 10}, {"stop_sequences", {"x"}}, {"top_k", 3},
      {"system", json::array({{{"type", "text"}, {"text", "S"}}})},
      {"thinking", {{"type", "enabled"}, {"budget_tokens", 2000}}},
      {"tools", json::array({{{"name", "w"}, {"input_schema", {{"type", "object"}}}}})},
      {"tool_choice", {{"type", "any"}}},
      {"messages", json::array({
          {{"role", "user"}, {"content", "q"}},
          {{"role", "assistant"}, {"content", json::array({{{"type", "thinking"}, {"thinking", "t"}},
                                                            {{"type", "tool_use"}, {"id", "tu"}, {"name", "w"}, {"input", {{"c", 1}}}}})}},
          {{"role", "user"}, {"content", json::array({{{"type", "tool_result"}, {"tool_use_id", "tu"}, {"content", "ok"}}})}},
          {{"role", "assistant"}, {"content", "Pre"}}})}};
  const json o = to_openai(body);
  const json& m = o["messages"];
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0], json({{"role", "system"}, {"content", "S"}}));
  EXPECT_EQ(m[2]["reasoning_content"], "t");
  EXPECT_EQ(m[2]["tool_calls"][0]["function"]["arguments"], R"({"c":1})");
  EXPECT_EQ(m[3], json({{"role", "tool"}, {"tool_call_id", "tu"}, {"content", "ok"}}));
  EXPECT_EQ(m[4]["prefix"], true);  // Anthropic's prefill is a prefix completion
  EXPECT_EQ(o["tool_choice"], "required");
  EXPECT_EQ(o["tools"][0]["function"]["parameters"], json({{"type", "object"}}));
  EXPECT_EQ(o["thinking"], json({{"type", "enabled"}, {"budget_tokens", 2000}}));  // the budget is honoured
  EXPECT_EQ(o["stop"], json({"x"}));
  EXPECT_EQ(o["top_k"], 3);
  auto p = parse_completion_request(o.dump(), true, RequestLimits{});
  ASSERT_TRUE(std::holds_alternative<CompletionParams>(p)) << std::get<ApiError>(p).message;
}

TEST(AnthropicRequest, ErrorsAndErrorShape) {
  const json msgs = json::array({{{"role", "user"}, {"content", "q"}}});
  auto no_max = anthropic_to_openai({{"messages", msgs}}, false);
  ASSERT_TRUE(std::holds_alternative<ApiError>(no_max));
  EXPECT_EQ(std::get<ApiError>(no_max).param, "max_tokens");
  EXPECT_TRUE(std::holds_alternative<json>(anthropic_to_openai({{"messages", msgs}}, true)));  // count_tokens: no max_tokens
  auto image = anthropic_to_openai({{"max_tokens", 1}, {"messages", json::array({{{"role", "user"}, {"content", json::array({{{"type", "image"}}})}}})}}, false);
  EXPECT_TRUE(std::holds_alternative<ApiError>(image));
  EXPECT_EQ(anthropic_error_body(invalid("m")), json({{"type", "error"}, {"error", {{"type", "invalid_request_error"}, {"message", "m"}}}}));
  EXPECT_EQ(anthropic_error_body(ApiError{401, "x", "k", "", ""})["error"]["type"], "authentication_error");
  EXPECT_EQ(anthropic_error_body(ApiError{404, "x", "k", "", ""})["error"]["type"], "not_found_error");
  EXPECT_EQ(anthropic_error_body(ApiError{429, "x", "k", "", ""})["error"]["type"], "rate_limit_error");
  EXPECT_EQ(anthropic_error_body(ApiError{500, "x", "k", "", ""})["error"]["type"], "api_error");
}

// DeepSeek's encoders print a tool's schema in the order it was sent; the
// Anthropic route must not sort input_schema on its way to the chat request.
TEST(AnthropicRequest, ToolSchemasKeepTheRequestsKeyOrder) {
  const std::string body = R"({"max_tokens": 8, "messages": [{"role": "user", "content": "hi"}], "tools": [
    {"name": "f", "input_schema": {"type": "object", "properties": {"zeta": {"type": "string"}, "alpha": {"type": "integer"}}}}]})";
  auto r = anthropic_completion_params(body, false, RequestLimits{});
  ASSERT_TRUE(std::holds_alternative<CompletionParams>(r)) << std::get<ApiError>(r).message;
  const auto& params = std::get<CompletionParams>(r).tools.at(0)["function"]["parameters"];
  EXPECT_EQ(params.begin().key(), "type");
  EXPECT_EQ(params["properties"].begin().key(), "zeta");
  EXPECT_EQ(params["properties"].dump(), R"({"zeta":{"type":"string"},"alpha":{"type":"integer"}})");
  auto bad = anthropic_completion_params("{oops", false, RequestLimits{});
  EXPECT_TRUE(std::holds_alternative<ApiError>(bad));
}

TEST(AnthropicResponse, StopReasonsUsageAndEvents) {
  EXPECT_EQ(anthropic_stop_reason("length", ""), "max_tokens");
  EXPECT_EQ(anthropic_stop_reason("tool_calls", ""), "tool_use");
  EXPECT_EQ(anthropic_stop_reason("stop", "END"), "stop_sequence");
  EXPECT_EQ(anthropic_stop_reason("stop", ""), "end_turn");
  const json usage = {{"prompt_tokens", 10}, {"completion_tokens", 4}, {"prompt_cache_hit_tokens", 6}};
  EXPECT_EQ(anthropic_usage(usage)["input_tokens"], 4);
  EXPECT_EQ(anthropic_usage(usage)["cache_read_input_tokens"], 6);
  EXPECT_EQ(anthropic_usage(usage)["output_tokens"], 4);

  AnthropicFormatter f("m", usage);
  std::string s = f.first_chunks();
  ChoiceDelta think, text, call, end;
  think.reasoning = "hm";
  text.content = "Hi";
  call.tool_calls.push_back(ToolCall{0, "call_1", "w", R"({"c":1})"});
  call.tool_call_parts = {{0, "call_1", "w", ""}, {0, "", "", R"({"c":1})"}};  // as the output parser sends them
  end.finish_reason = "tool_calls";
  for (const ChoiceDelta* d : {&think, &text, &call, &end}) s += f.chunk(*d), f.add(*d);
  s += f.last_chunks(usage);
  const char* order[] = {"event: message_start", "event: ping", "\"type\":\"thinking\"", "thinking_delta", "signature_delta",
                         "content_block_stop", "\"type\":\"text\"", "text_delta", "content_block_stop", "\"type\":\"tool_use\"",
                         "input_json_delta", "content_block_stop", "event: message_delta", "\"stop_reason\":\"tool_use\"", "event: message_stop"};
  size_t at = 0;
  for (const char* want : order) {
    const size_t found = s.find(want, at);
    ASSERT_NE(found, std::string::npos) << want << " after " << at << " in\n" << s;
    at = found + 1;
  }
  const json whole = f.whole(usage);
  ASSERT_EQ(whole["content"].size(), 3u);
  EXPECT_EQ(whole["content"][0]["thinking"], "hm");
  EXPECT_EQ(whole["content"][2]["input"], json({{"c", 1}}));
  EXPECT_EQ(whole["stop_reason"], "tool_use");
}

}  // namespace
}  // namespace dseek::server
