// See prompt_plan.h.
#include "server/prompt_plan.h"

#include "server/session.h"

namespace dseek::server {

using nlohmann::json;

namespace {

constexpr const char* kFimBegin = "<｜fim▁begin｜>";
constexpr const char* kFimHole = "<｜fim▁hole｜>";
constexpr const char* kFimEnd = "<｜fim▁end｜>";

// PREFIX (and SUFFIX) as plain text between the FIM marker tokens.
std::variant<std::vector<int32_t>, ApiError> fim_ids(const Tokenizer& tok, const std::vector<int32_t>& prefix,
                                                     const std::string& suffix) {
  const auto begin = tok.token_id(kFimBegin), hole = tok.token_id(kFimHole), end = tok.token_id(kFimEnd);
  if (!begin || !hole || !end)
    return invalid("'suffix' (fill-in-the-middle) needs the FIM tokens <｜fim▁begin｜>, <｜fim▁hole｜> and <｜fim▁end｜>; this model's vocabulary lacks them",
                   "suffix", "fim_unsupported");
  std::vector<int32_t> out;
  if (tok.add_bos() && tok.bos_id() >= 0) out.push_back(tok.bos_id());
  out.push_back(*begin);
  out.insert(out.end(), prefix.begin(), prefix.end());
  out.push_back(*hole);
  const auto s = tok.encode(suffix, EncodeOptions{false, false});
  out.insert(out.end(), s.begin(), s.end());
  out.push_back(*end);
  return out;
}

// One prompt of a completions request: its ids and (for echo) its text.
std::variant<std::vector<int32_t>, ApiError> one_prompt(const ServerContext& ctx, const CompletionParams& p, size_t i,
                                                        std::string& text) {
  const Tokenizer& tok = *ctx.tokenizer;
  std::vector<int32_t> ids;
  if (p.prompt_is_ids) {
    ids = p.prompt_id_list[i];
    for (int32_t id : ids)
      if (static_cast<size_t>(id) >= tok.vocab_size())
        return invalid("'prompt' token id " + std::to_string(id) + " is not in the vocabulary (" + std::to_string(tok.vocab_size()) + " tokens)", "prompt");
    text = tok.decode(ids, DecodeOptions{true});
  } else {
    text = p.prompt_list[i];
    ids = tok.encode(text, EncodeOptions{false, tok.add_bos() && !p.fim});  // the prompt is text, never markup
  }
  if (!p.fim) return ids;
  return fim_ids(tok, ids, p.suffix);
}

}  // namespace

std::variant<PromptPlan, ApiError> completion_prompt_plan(const ServerContext& ctx, const CompletionParams& p) {
  PromptPlan plan;
  const size_t n = p.prompt_is_ids ? p.prompt_id_list.size() : p.prompt_list.size();
  for (size_t i = 0; i < n; ++i) {
    std::string text;
    auto ids = one_prompt(ctx, p, i, text);
    if (auto* e = std::get_if<ApiError>(&ids)) return *e;
    if (i == 0) plan.ids = std::move(std::get<std::vector<int32_t>>(ids));
    else plan.more_ids.push_back(std::move(std::get<std::vector<int32_t>>(ids)));
    if (p.echo) plan.echo.push_back(std::move(text));
  }
  return plan;
}

std::variant<PromptPlan, ApiError> prefix_chat_plan(const ServerContext& ctx, const CompletionParams& p) {
  if (p.tool_choice == "required" || p.tool_choice == "function")
    return invalid("a prefix completion cannot force a tool call (tool_choice '" + p.tool_choice + "')", "tool_choice");
  CompletionParams head = p;
  const json last = head.messages.back();
  head.messages.erase(head.messages.size() - 1);
  PromptPlan plan;
  auto r = chat_prompt_tokens(ctx, head, &plan.reasoning);
  if (auto* e = std::get_if<ApiError>(&r)) return *e;
  plan.ids = std::move(std::get<std::vector<int32_t>>(r));
  const Tokenizer& tok = *ctx.tokenizer;
  auto append = [&](const std::string& text, bool markup) {
    const auto extra = tok.encode(text, EncodeOptions{markup, false});
    plan.ids.insert(plan.ids.end(), extra.begin(), extra.end());
  };
  const std::string content = last.value("content", std::string());
  const auto rc = last.find("reasoning_content");
  const bool has_reasoning = rc != last.end() && rc->is_string();
  if (plan.reasoning) {  // the template opened <think>: continue the reasoning, or close it before the content
    if (has_reasoning) append(rc->get<std::string>(), false);
    if (!content.empty() || !has_reasoning) {
      append("</think>", true);
      plan.reasoning = false;
    }
  }
  append(content, false);
  return plan;
}

size_t complete_utf8_prefix(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back for the lead
    const size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    return need > back ? n - back : n;  // the lead's sequence is cut short: drop it
  }
  return n;
}

}  // namespace dseek::server
