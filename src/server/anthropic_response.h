// Anthropic Messages API answers from a session's deltas (one choice): the
// whole "message" object, or the Server-Sent Events Anthropic documents —
// message_start, then per content block content_block_start,
// content_block_delta (thinking_delta / text_delta / input_json_delta) and
// content_block_stop, then message_delta (stop_reason, usage) and
// message_stop. Reasoning becomes a thinking block, tool calls tool_use blocks.
// usage: input_tokens (prompt tokens not read from the cache),
// cache_read_input_tokens, output_tokens.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "server/response_formatter.h"
#include "server/session.h"

namespace dseek::server {

// OpenAI finish_reason (+ the stop string that ended the choice) -> Anthropic's stop_reason.
std::string anthropic_stop_reason(const std::string& finish_reason, const std::string& stop_string);
// Session usage -> Anthropic usage.
nlohmann::json anthropic_usage(const nlohmann::json& usage);

class AnthropicFormatter : public ResponseFormatter {
 public:
  // session_usage: the session's usage at its start (its prompt and cache counts), for message_start.
  AnthropicFormatter(std::string model, const nlohmann::json& session_usage);

  void add(const ChoiceDelta& d) override;
  nlohmann::json whole(const nlohmann::json& usage) const override;
  const std::string& error() const override { return error_; }
  nlohmann::json error_body(const ApiError& e) const override;

  bool started() const override { return started_; }
  std::string first_chunks() override;
  std::string chunk(const ChoiceDelta& d) override;
  std::string last_chunks(const nlohmann::json& usage) override;

 private:
  enum class Block { kNone, kThinking, kText, kToolUse };
  static std::string event(const char* name, const nlohmann::json& data);
  std::string open_block(Block kind);
  std::string tool_part(const ToolCallPart& p);
  std::string close_block();

  std::string model_, id_;
  nlohmann::json start_usage_;
  bool started_ = false;
  // gathered (non-streamed)
  nlohmann::json blocks_ = nlohmann::json::array();
  std::string stop_reason_, stop_string_, error_;
  // streamed
  Block open_ = Block::kNone;
  int next_index_ = 0;
};

}  // namespace dseek::server
