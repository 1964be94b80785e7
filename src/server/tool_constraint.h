// Grammar-constrained output for a chat request: response_format json_schema,
// and tool calls (tool_choice / parallel_tool_calls / strict). A plan is made
// once per request; each choice runs its own GrammarState. A grammar may wait
// for a start token: </think> when the model reasons first, or the
// tool-calls-begin token under tool_choice "auto" (free text until the model
// opens a call block).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "runtime/token_trie.h"
#include "server/api_error.h"
#include "server/chat_output.h"
#include "server/request.h"
#include "server/tool_markup.h"

namespace dseek::server {

struct ServerContext;

struct OutputConstraint {
  std::shared_ptr<GrammarMasker> masker;  // null: no grammar
  int32_t start_token = -1;               // -1: applies from the first generated token
  bool holds_tool_calls = false;          // the grammar is the tool-call markup's
};

// What a request's tool fields mean for the output parser; `plan`: the
// request's grammar (calls it holds are streamed as they are generated).
ToolParsing tool_parsing(const CompletionParams& p, const OutputConstraint& plan);

// The grammar for this request, or a 400 for a schema that cannot be enforced.
// `reasoning`: the prompt ends inside <think>; `forced`: the prompt already
// ends with the opening markup of a call (tool_choice required / named).
std::variant<OutputConstraint, ApiError> plan_output_constraint(const ServerContext& ctx, const CompletionParams& p,
                                                                bool reasoning, bool forced);

// One choice's progress through the plan's grammar.
class ChoiceConstraint {
 public:
  explicit ChoiceConstraint(const OutputConstraint& plan);
  void mask(std::span<const int32_t> end_tokens, float* logits);
  void on_token(int32_t token);

 private:
  OutputConstraint plan_;
  std::optional<GrammarState> state_;
};

}  // namespace dseek::server
