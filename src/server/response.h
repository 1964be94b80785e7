// OpenAI response bodies from a session's deltas: the whole object
// (chat.completion / text_completion) or Server-Sent-Event chunks
// (chat.completion.chunk / text_completion) ending with "data: [DONE]".
// DeepSeek's extensions ride along: reasoning_content, and usage's
// prompt_cache_hit_tokens / prompt_cache_miss_tokens.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/request.h"
#include "server/response_formatter.h"
#include "server/session.h"

namespace dseek::server {

// JSON text for the wire. Model output can hold bytes that are not UTF-8 (a
// random or broken model); they become U+FFFD instead of an exception.
inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class ResponseBuilder : public ResponseFormatter {
 public:
  ResponseBuilder(std::string model, const CompletionParams& p, const Session& s);

  // Non-streaming: gather deltas, then whole().
  void add(const ChoiceDelta& d) override;
  nlohmann::json whole(const nlohmann::json& usage) const override;
  const std::string& error() const override { return error_; }

  // Streaming.
  bool started() const override { return started_; }
  std::string first_chunks() override;
  std::string chunk(const ChoiceDelta& d) override;
  std::string last_chunks(const nlohmann::json& usage) override;

 private:
  struct Acc {
    std::string content, reasoning, finish_reason;
    nlohmann::json tool_calls = nlohmann::json::array();
    nlohmann::json logprobs = nlohmann::json::array();
  };
  nlohmann::json envelope(const char* object) const;
  nlohmann::json completion_logprobs(const nlohmann::json& entries, size_t text_offset) const;
  static std::string sse(const nlohmann::json& j) { return "data: " + dump_json(j) + "\n\n"; }
  static nlohmann::json tool_call_json(const ToolCall& t, bool with_index);
  static std::vector<nlohmann::json> tool_call_chunks(const std::vector<ToolCallPart>& parts);

  std::string model_, id_;
  int64_t created_;
  bool chat_, stream_usage_, logprobs_;
  bool started_ = false;
  std::vector<Acc> acc_;
  std::vector<size_t> text_offset_;  // completions streaming: bytes sent so far per choice
  std::string error_;
};

}  // namespace dseek::server
