// One completion request in flight: turns validated parameters into a prompt
// (the model's chat template, with user text kept as plain text), submits one
// engine request per choice, and turns the engine's tokens into what the API
// returns — text with stop strings cut, reasoning split from content, tool
// calls parsed, JSON-constrained output, log-probabilities. The HTTP handler
// polls deltas from it and formats them (streamed or whole).
//
// Token handling runs on the engine thread (so a stop string ends a request at
// once); the handler thread only reads finished deltas.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/chat_output.h"
#include "runtime/chat_prompt.h"
#include "runtime/engine.h"
#include "runtime/token_trie.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/prompt_plan.h"
#include "server/request.h"
#include "tokenizer/tokenizer.h"

namespace dseek::server {

// What every request needs, fixed when the server starts.
struct OutputConstraint;

struct ServerContext {
  Engine* engine = nullptr;
  const Tokenizer* tokenizer = nullptr;
  std::optional<ChatFormat> chat_format;  // absent: /v1/chat/completions answers 400
  std::string template_error;             // why it is absent
  std::string alias;                          // the model id clients use (the first of aliases)
  std::vector<std::string> aliases;           // every model id accepted and listed (--model-alias, repeatable)
  std::string arch;                           // the model's architecture name: DeepSeek's rules per generation
  std::vector<std::string> token_bytes;       // id -> bytes (JSON-constrained output)
  std::vector<int32_t> end_tokens;            // EOS and end-of-turn tokens
  std::shared_ptr<const ConstraintVocab> constraint_vocab;  // json_schema / tool-call grammars (built at start)
  Metrics* metrics = nullptr;
  RequestLimits limits;
  double timeout_seconds = 600;
};

struct ChoiceDelta {
  int index = 0;
  std::string content, reasoning;
  std::vector<ToolCall> tool_calls;           // complete calls (whole answers)
  std::vector<ToolCallPart> tool_call_parts;  // the same calls in parts, as generated (streams)
  nlohmann::json logprobs = nlohmann::json::array();  // per-token entries (chat format)
  std::string finish_reason;                          // set on a choice's last delta
  std::string stop_string;                            // with it: the stop string that ended the choice, if one did
  std::string error;                                  // the engine failed this choice
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  static std::variant<std::shared_ptr<Session>, ApiError> start(ServerContext& ctx, const CompletionParams& params);
  ~Session();

  // Moves available deltas into `out`, waiting up to `wait` when there are
  // none. Returns false once every choice has finished and all was taken.
  bool poll(std::vector<ChoiceDelta>& out, std::chrono::milliseconds wait);
  // Stops every choice (client gone); pages are freed at the engine's next step.
  void cancel();
  // Stops every choice for the server's own reason (e.g. "shutdown"): unlike a
  // client's hang-up, the answer still ends with that finish_reason.
  void cancel_with_reason(const std::string& finish_reason);
  // Called (on the engine thread, without the session's lock held) after each
  // new delta, so an event-driven front can poll without blocking; empty: none.
  void set_listener(std::function<void()> listener);
  nlohmann::json usage() const;

  const std::string& id() const { return id_; }
  int64_t created() const { return created_; }
  int64_t n_choices() const { return static_cast<int64_t>(choices_.size()); }

 private:
  struct Choice;
  Session() = default;
  // start()'s steps after the prompt is built: one Choice per n, then one engine request each.
  void add_choices(bool reasoning, const std::string& forced_text, const OutputConstraint& constraint);
  EngineRequest engine_request(Choice* c, const std::vector<int32_t>& prompt, int64_t i);
  std::optional<ApiError> submit_choices(const PromptPlan& plan);
  void push_echo(const PromptPlan& plan);  // completions with echo: each choice's text begins with its prompt
  void count_reasoning(Choice& c);
  void push(ChoiceDelta d, bool last);
  void emit_text(Choice& c, const std::string& text, ChoiceDelta& d);
  bool on_token(Choice& c, const TokenEvent& ev);
  void on_finish(Choice& c, const FinishEvent& ev);
  nlohmann::json completion_details() const;  // mu_ held

  ServerContext* ctx_ = nullptr;
  CompletionParams params_;
  std::string id_;
  int64_t created_ = 0;
  std::chrono::steady_clock::time_point t0_, deadline_;
  int64_t prompt_tokens_ = 0;
  int64_t n_prompts_ = 1;  // completions with a prompt array: n choices per prompt
  std::vector<std::unique_ptr<Choice>> choices_;
  std::vector<std::shared_ptr<Engine::Handle>> handles_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChoiceDelta> queue_;
  int64_t finished_ = 0, completion_tokens_ = 0, cached_tokens_ = 0, reasoning_tokens_ = 0;
  int64_t drafted_tokens_ = 0, accepted_tokens_ = 0;  // speculative drafts (--spec), all choices
  bool cancelled_ = false;
  std::string cancel_reason_;  // set before cancelled_; read on the engine thread under mu_
  std::mutex listener_mu_;  // held while the listener runs, so clearing it waits for a call in flight
  std::function<void()> listener_;
};

// For tool_choice "required" or a named function: the text that opens a tool
// call in this template's own markup (learned by rendering an assistant turn
// with a tool call), appended to the prompt so the model can only continue
// with a call. Empty when tool_choice does not force one.
std::variant<std::string, ApiError> forced_tool_prefix(const ServerContext& ctx, const CompletionParams& p);

// Builds the token prompt of a chat request. User, system and tool text is
// encoded as plain text even if it spells a control token; the template's own
// markup is encoded with control tokens. Sets starts_in_reasoning when the
// rendered prompt ends inside an opened <think> block.
std::variant<std::vector<int32_t>, ApiError> chat_prompt_tokens(const ServerContext& ctx, const CompletionParams& p,
                                                                bool* starts_in_reasoning);

}  // namespace dseek::server
