// See anthropic_response.h.
#include "server/anthropic_response.h"

#include "core/random_id.h"
#include "server/anthropic_request.h"
#include "server/response.h"

namespace dseek::server {

using nlohmann::json;

std::string anthropic_stop_reason(const std::string& finish_reason, const std::string& stop_string) {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls") return "tool_use";
  if (finish_reason == "stop" && !stop_string.empty()) return "stop_sequence";
  return "end_turn";  // stop, and the server's own ends (timeout, shutdown)
}

json anthropic_usage(const json& usage) {
  const int64_t prompt = usage.value("prompt_tokens", int64_t{0}), hit = usage.value("prompt_cache_hit_tokens", int64_t{0});
  return {{"input_tokens", prompt - hit},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", hit},
          {"output_tokens", usage.value("completion_tokens", int64_t{0})}};
}

namespace {

json tool_input(const ToolCall& t) {
  try {
    return json::parse(t.arguments);
  } catch (const json::exception&) {
    return json::object();  // the output parser only emits calls whose arguments are a JSON object
  }
}

}  // namespace

AnthropicFormatter::AnthropicFormatter(std::string model, const json& session_usage)
    : model_(std::move(model)), id_("msg_" + random_hex(24)), start_usage_(anthropic_usage(session_usage)) {}

json AnthropicFormatter::error_body(const ApiError& e) const { return anthropic_error_body(e); }

void AnthropicFormatter::add(const ChoiceDelta& d) {
  auto append = [&](const char* type, const char* key, const std::string& text) {
    if (text.empty()) return;
    if (blocks_.empty() || blocks_.back()["type"] != type) blocks_.push_back({{"type", type}, {key, ""}});
    blocks_.back()[key] = blocks_.back()[key].get<std::string>() + text;
  };
  append("thinking", "thinking", d.reasoning);
  append("text", "text", d.content);
  for (const auto& t : d.tool_calls)
    blocks_.push_back({{"type", "tool_use"}, {"id", t.id}, {"name", t.name}, {"input", tool_input(t)}});
  if (!d.finish_reason.empty()) stop_reason_ = d.finish_reason, stop_string_ = d.stop_string;
  if (!d.error.empty() && error_.empty()) error_ = d.error;
}

json AnthropicFormatter::whole(const json& usage) const {
  json content = blocks_;
  for (json& b : content)
    if (b["type"] == "thinking") b["signature"] = "";  // no signature: a local model's reasoning needs no proof
  const std::string reason = anthropic_stop_reason(stop_reason_, stop_string_);
  return {{"id", id_},
          {"type", "message"},
          {"role", "assistant"},
          {"model", model_},
          {"content", content},
          {"stop_reason", reason},
          {"stop_sequence", reason == "stop_sequence" ? json(stop_string_) : json(nullptr)},
          {"usage", anthropic_usage(usage)}};
}

std::string AnthropicFormatter::event(const char* name, const json& data) {
  return std::string("event: ") + name + "\ndata: " + dump_json(data) + "\n\n";
}

std::string AnthropicFormatter::first_chunks() {
  started_ = true;
  json usage = start_usage_;
  usage["output_tokens"] = 0;
  const json msg = {{"id", id_}, {"type", "message"}, {"role", "assistant"}, {"model", model_}, {"content", json::array()},
                    {"stop_reason", nullptr}, {"stop_sequence", nullptr}, {"usage", usage}};
  return event("message_start", {{"type", "message_start"}, {"message", msg}}) + event("ping", {{"type", "ping"}});
}

std::string AnthropicFormatter::close_block() {
  if (open_ == Block::kNone) return {};
  std::string out;
  const int index = next_index_ - 1;
  if (open_ == Block::kThinking)
    out += event("content_block_delta", {{"type", "content_block_delta"}, {"index", index},
                                         {"delta", {{"type", "signature_delta"}, {"signature", ""}}}});
  out += event("content_block_stop", {{"type", "content_block_stop"}, {"index", index}});
  open_ = Block::kNone;
  return out;
}

std::string AnthropicFormatter::open_block(Block kind) {
  if (open_ == kind) return {};
  std::string out = close_block();
  const json block = kind == Block::kThinking ? json{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}
                                              : json{{"type", "text"}, {"text", ""}};
  out += event("content_block_start", {{"type", "content_block_start"}, {"index", next_index_++}, {"content_block", block}});
  open_ = kind;
  return out;
}

// A tool call's first part opens its tool_use block; its argument fragments
// are input_json_delta events as they are generated; the next block, or the
// call's end (in chunk()), closes it.
std::string AnthropicFormatter::tool_part(const ToolCallPart& p) {
  if (!p.name.empty()) {
    std::string out = close_block();
    out += event("content_block_start", {{"type", "content_block_start"}, {"index", next_index_++},
                                         {"content_block", {{"type", "tool_use"}, {"id", p.id}, {"name", p.name}, {"input", json::object()}}}});
    open_ = Block::kToolUse;
    return out;
  }
  if (open_ != Block::kToolUse || p.arguments.empty()) return {};
  return event("content_block_delta", {{"type", "content_block_delta"}, {"index", next_index_ - 1},
                                       {"delta", {{"type", "input_json_delta"}, {"partial_json", p.arguments}}}});
}

std::string AnthropicFormatter::chunk(const ChoiceDelta& d) {
  if (!d.error.empty()) return event("error", anthropic_error_body(ApiError{500, "server_error", d.error, "", ""}));
  std::string out;
  auto delta = [&](const char* type, const char* key, const std::string& text) {
    out += event("content_block_delta", {{"type", "content_block_delta"}, {"index", next_index_ - 1},
                                         {"delta", {{"type", type}, {key, text}}}});
  };
  if (!d.reasoning.empty()) out += open_block(Block::kThinking), delta("thinking_delta", "thinking", d.reasoning);
  if (!d.content.empty()) out += open_block(Block::kText), delta("text_delta", "text", d.content);
  for (const auto& p : d.tool_call_parts) out += tool_part(p);
  if (!d.tool_calls.empty() && open_ == Block::kToolUse) out += close_block();  // the call is complete
  if (!d.finish_reason.empty()) {
    out += close_block();
    stop_reason_ = d.finish_reason;
    stop_string_ = d.stop_string;
  }
  return out;
}

std::string AnthropicFormatter::last_chunks(const json& usage) {
  std::string out = close_block();
  const std::string reason = anthropic_stop_reason(stop_reason_, stop_string_);
  out += event("message_delta", {{"type", "message_delta"},
                                 {"delta", {{"stop_reason", reason}, {"stop_sequence", reason == "stop_sequence" ? json(stop_string_) : json(nullptr)}}},
                                 {"usage", anthropic_usage(usage)}});
  out += event("message_stop", {{"type", "message_stop"}});
  return out;
}

}  // namespace dseek::server
