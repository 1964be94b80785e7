// See tool_constraint.h.
#include "server/tool_constraint.h"

#include "server/session.h"

namespace dseek::server {

using nlohmann::json;

namespace {

int32_t single_token(const Tokenizer& tok, std::string_view text) {
  const auto ids = tok.encode(std::string(text), EncodeOptions{true, false});
  return ids.size() == 1 ? ids[0] : -1;
}

std::vector<std::string> callable_names(const CompletionParams& p) {
  if (p.tool_choice == "function") return {p.forced_tool};
  std::vector<std::string> names;
  for (const auto& t : p.tools) names.push_back(t["function"]["name"].get<std::string>());
  return names;
}

std::shared_ptr<const ConstraintVocab> vocab_of(const ServerContext& ctx) {
  if (ctx.constraint_vocab) return ctx.constraint_vocab;
  return std::make_shared<const ConstraintVocab>(*ctx.tokenizer);  // contexts built without one (tests)
}

std::variant<OutputConstraint, ApiError> schema_constraint(const ServerContext& ctx, const CompletionParams& p, bool reasoning) {
  auto g = compile_json_schema(p.json_schema, SchemaOptions{p.json_schema_strict});
  if (!g.ok()) return invalid("response_format.json_schema: " + g.message(), "response_format");
  OutputConstraint out;
  out.masker = std::make_shared<GrammarMasker>(std::make_shared<const Grammar>(std::move(g).value()), vocab_of(ctx));
  if (reasoning) {
    out.start_token = single_token(*ctx.tokenizer, "</think>");
    if (out.start_token < 0) return invalid("response_format json_schema: this model's reasoning has no </think> token", "response_format");
  }
  return out;
}

}  // namespace

ToolParsing tool_parsing(const CompletionParams& p, const OutputConstraint& plan) {
  ToolParsing t;
  t.enabled = p.tools_enabled;
  if (t.enabled) t.names = callable_names(p);
  if (!p.parallel_tool_calls) t.max_calls = 1;
  t.stream_arguments = t.enabled && plan.masker && plan.holds_tool_calls;
  return t;
}

std::variant<OutputConstraint, ApiError> plan_output_constraint(const ServerContext& ctx, const CompletionParams& p,
                                                                bool reasoning, bool forced) {
  if (!p.json_schema.is_null() && !forced) return schema_constraint(ctx, p, reasoning);
  if (!p.tools_enabled || !ctx.chat_format) return OutputConstraint{};
  const ToolMarkup* markup = detect_tool_markup(*ctx.chat_format);
  if (!markup) return OutputConstraint{};  // the model has no call markup to hold: calls are only parsed
  // Under auto the grammar waits for the calls-begin token; where that markup
  // is several tokens (DSML) it holds the reply from its start instead: free
  // text that ends the output or goes on into the calls (after </think> when
  // the model reasons first).
  const int32_t opener = forced ? -1 : single_token(*ctx.tokenizer, markup->calls_begin);
  ToolGrammarSpec spec{p.tools, callable_names(p), p.parallel_tool_calls, forced};
  spec.text_first = !forced && opener < 0;
  auto g = tool_call_grammar(spec, *markup);
  if (!g.ok()) return invalid(g.message(), "tools");
  OutputConstraint out;
  out.masker = std::make_shared<GrammarMasker>(*g, vocab_of(ctx));
  out.holds_tool_calls = true;
  out.start_token = spec.text_first && reasoning ? single_token(*ctx.tokenizer, "</think>") : opener;
  if (spec.text_first && reasoning && out.start_token < 0) return OutputConstraint{};  // no </think> token to wait for
  return out;
}

ChoiceConstraint::ChoiceConstraint(const OutputConstraint& plan) : plan_(plan) {
  if (plan_.start_token < 0) state_.emplace(plan_.masker->initial());
}

void ChoiceConstraint::mask(std::span<const int32_t> end_tokens, float* logits) {
  if (state_) plan_.masker->mask(*state_, end_tokens, logits);
}

void ChoiceConstraint::on_token(int32_t token) {
  if (state_) (void)plan_.masker->feed(*state_, token);  // allowed by the mask
  else if (token == plan_.start_token) state_.emplace(plan_.masker->initial());
}

}  // namespace dseek::server
