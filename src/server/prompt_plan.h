// The token prompts of a request and what its output handling must know of
// them. Chat requests render the model's chat template (session.cpp's
// chat_prompt_plan); this file adds the plans DeepSeek's API has beyond it:
//   * completions: one prompt per entry of a legacy prompt array, each with
//     fill-in-the-middle (`suffix`) in DeepSeek's FIM format
//       <｜fim▁begin｜>PREFIX<｜fim▁hole｜>SUFFIX<｜fim▁end｜>
//     (DeepSeek-Coder and V3 alike; the markers must be tokens of the vocabulary);
//   * chat prefix completion: the last assistant message ("prefix": true) is
//     left open, so the model continues its text (and its reasoning, when the
//     message holds reasoning_content and the template opened <think>).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "server/api_error.h"
#include "server/request.h"

namespace dseek::server {

struct ServerContext;

struct PromptPlan {
  std::vector<int32_t> ids;
  std::vector<std::vector<int32_t>> more_ids;  // completions: the 2nd, 3rd, ... prompt of a prompt array
  std::vector<std::string> echo;               // completions with echo: each prompt's text
  std::string forced_text;  // a forced tool call's opening markup, already in the prompt
  bool reasoning = false;   // the prompt ends inside an opened <think> block

  size_t n_prompts() const { return 1 + more_ids.size(); }
  const std::vector<int32_t>& prompt(size_t i) const { return i == 0 ? ids : more_ids[i - 1]; }
};

// Any request's plan (session.cpp): the chat template, the plans below, and the context-length check.
std::variant<PromptPlan, ApiError> prompt_plan(const ServerContext& ctx, const CompletionParams& params);
std::variant<PromptPlan, ApiError> completion_prompt_plan(const ServerContext& ctx, const CompletionParams& p);
std::variant<PromptPlan, ApiError> prefix_chat_plan(const ServerContext& ctx, const CompletionParams& p);

// The length of the longest prefix of `s` that does not end inside an
// incomplete (so far well-formed) UTF-8 sequence.
size_t complete_utf8_prefix(std::string_view s);

}  // namespace dseek::server
