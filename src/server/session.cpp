// See session.h.
#include "server/session.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "core/random_id.h"
#include "server/deepseek_rules.h"
#include "server/prompt_plan.h"
#include "runtime/json_constraint.h"
#include "server/tool_constraint.h"
#include "tokenizer/stream_decoder.h"

namespace dseek::server {

using nlohmann::json;

struct Session::Choice {
  int index = 0;
  StreamDecoder decoder;
  std::string held;  // decoded text not yet emitted: it may begin a stop string
  std::string matched_stop;  // the stop string that ended the choice
  std::optional<ChatOutputParser> parser;
  std::optional<JsonPrefixChecker> json;
  std::optional<ChoiceConstraint> grammar;  // json_schema or tool calls
  bool stopped_by_string = false, any_tool_call = false;
  std::chrono::steady_clock::time_point last;
  int64_t n_tokens = 0;
  // usage.completion_tokens_details.reasoning_tokens: tokens until the content (or a tool call) begins
  bool reasoning_over = false, opened_think = false;
  int64_t reasoning_tokens = 0;
  // thinking.budget_tokens: past it, </think> is the only token allowed until the model has closed its reasoning
  int64_t think_budget = -1;
  int32_t think_end = -1;
  bool think_closed = false;
  bool over_think_budget() const {
    return think_budget >= 0 && think_end >= 0 && !think_closed && !reasoning_over && reasoning_tokens >= think_budget &&
           (opened_think || (parser && !parser->reasoning().empty()));
  }

  // Control tokens are decoded to their text: the output parser needs <think> and the tool-call markers.
  explicit Choice(const Tokenizer& tok) : decoder(tok, DecodeOptions{false}) {}
};

namespace {

// JSON strings must be UTF-8; a token may end mid-character. Replace what is not valid.
std::string valid_utf8(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok) out.append(s.substr(i, n)), i += n;
    else out += "\xEF\xBF\xBD", ++i;
  }
  return out;
}

json bytes_array(std::string_view s) {
  json a = json::array();
  for (unsigned char c : s) a.push_back(static_cast<int>(c));
  return a;
}

// Length of the longest suffix of `text` that is a proper prefix of a stop string.
size_t stop_prefix_len(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& s : stops)
    for (size_t k = std::min(text.size(), s.size() - 1); k > best; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        best = k;
        break;
      }
  return best;
}

}  // namespace

// The opening markup of a call, up to the function name: the grammar holds the rest.
std::variant<std::string, ApiError> forced_tool_prefix(const ServerContext& ctx, const CompletionParams& p) {
  if (p.tool_choice != "required" && p.tool_choice != "function") return std::string();
  const ToolMarkup* m = ctx.chat_format ? detect_tool_markup(*ctx.chat_format) : nullptr;
  if (!m)
    return invalid("tool_choice '" + p.tool_choice + "' needs a chat template with DeepSeek tool-call markup; this model's has none (use 'auto')", "tool_choice");
  return std::string(m->calls_begin) + std::string(m->call_begin);
}

std::variant<std::vector<int32_t>, ApiError> chat_prompt_tokens(const ServerContext& ctx, const CompletionParams& p,
                                                                bool* starts_in_reasoning) {
  if (!ctx.chat_format) return ApiError{400, "invalid_request_error", "this model has no usable chat template (" + ctx.template_error + "); use /v1/completions", "", "no_chat_template"};
  ChatPromptInput in;
  in.messages = p.messages;
  in.template_kwargs = p.template_kwargs;
  if (p.tools_enabled) in.tools = p.tools;
  if (p.tools_enabled && !template_renders_tools(*ctx.chat_format)) {  // DeepSeek's system-prompt form instead
    const ToolMarkup* m = detect_tool_markup(*ctx.chat_format);
    in.messages = with_tool_system_prompt(p.messages, p.tools, m ? *m : default_tool_markup());
  }
  in.text = MessageText::kPlainText;
  auto prompt = build_chat_prompt(*ctx.chat_format, *ctx.tokenizer, in);
  if (!prompt.ok()) return invalid(prompt.message(), "messages");
  *starts_in_reasoning = prompt->starts_in_reasoning;
  return std::move(prompt->ids);
}

namespace {

std::variant<PromptPlan, ApiError> chat_prompt_plan(const ServerContext& ctx, const CompletionParams& params) {
  PromptPlan plan;
  auto r = chat_prompt_tokens(ctx, params, &plan.reasoning);
  if (auto* e = std::get_if<ApiError>(&r)) return *e;
  plan.ids = std::move(std::get<std::vector<int32_t>>(r));
  auto forced = forced_tool_prefix(ctx, params);
  if (auto* e = std::get_if<ApiError>(&forced)) return *e;
  plan.forced_text = std::get<std::string>(forced);
  if (!plan.forced_text.empty()) {
    if (plan.reasoning) return invalid("tool_choice '" + params.tool_choice + "' cannot be enforced while the model is reasoning (thinking on)", "tool_choice");
    const auto extra = ctx.tokenizer->encode(plan.forced_text, EncodeOptions{true, false});
    plan.ids.insert(plan.ids.end(), extra.begin(), extra.end());
  }
  return plan;
}

}  // namespace

// A chat request's messages with DeepSeek's reasoning_content rules of the model's generation applied.
std::variant<CompletionParams, ApiError> with_reasoning_rules(const ServerContext& ctx, const CompletionParams& params) {
  CompletionParams q = params;
  const GenerationRules& g = generation_rules(ctx.arch);
  const json& t = q.template_kwargs.contains("thinking") ? q.template_kwargs["thinking"] : json(nullptr);
  const bool thinking = t.is_boolean() ? t.get<bool>() : g.tool_turns_need_reasoning;  // V3.2 / V4 think by default
  if (auto e = apply_reasoning_rules(g, thinking, q.messages)) return *e;
  return q;
}

std::variant<PromptPlan, ApiError> prompt_plan(const ServerContext& ctx, const CompletionParams& params) {
  std::variant<PromptPlan, ApiError> out = PromptPlan{};
  if (params.chat) {
    auto q = with_reasoning_rules(ctx, params);
    if (auto* e = std::get_if<ApiError>(&q)) return *e;
    const CompletionParams& cp = std::get<CompletionParams>(q);
    out = cp.prefix_completion ? prefix_chat_plan(ctx, cp) : chat_prompt_plan(ctx, cp);
  } else {
    out = completion_prompt_plan(ctx, params);
  }
  if (auto* plan = std::get_if<PromptPlan>(&out)) {
    const int64_t n_ctx = ctx.engine->options().n_ctx;
    for (size_t i = 0; i < plan->n_prompts(); ++i)
      if (const auto n = static_cast<int64_t>(plan->prompt(i).size()); n >= n_ctx)
        return ApiError{400, "invalid_request_error",
                        "the prompt has " + std::to_string(n) + " tokens; this server's context holds " +
                            std::to_string(n_ctx) + " tokens including the output",
                        params.chat ? "messages" : "prompt", "context_length_exceeded"};
  }
  return out;
}

namespace {

// logit_bias ids must be in the vocabulary; echo has no prompt log-probabilities to go with it.
std::optional<ApiError> check_model_fields(const ServerContext& ctx, const CompletionParams& p) {
  for (const auto& [id, b] : p.logit_bias)
    if (static_cast<size_t>(id) >= ctx.tokenizer->vocab_size())
      return invalid("'logit_bias' token id " + std::to_string(id) + " is not in the vocabulary (" + std::to_string(ctx.tokenizer->vocab_size()) + " tokens)", "logit_bias");
  if (p.echo && p.logprobs) return invalid("'echo' with 'logprobs' is not supported (the prompt's log-probabilities are not computed)", "echo");
  return std::nullopt;
}

}  // namespace

void Session::push_echo(const PromptPlan& plan) {
  if (plan.echo.empty()) return;
  for (int64_t i = 0; i < n_choices(); ++i) {
    ChoiceDelta d;
    d.index = static_cast<int>(i);
    d.content = plan.echo[static_cast<size_t>(i / params_.n)];
    push(std::move(d), false);
  }
}

void Session::add_choices(bool reasoning, const std::string& forced_text, const OutputConstraint& constraint) {
  const uint64_t tool_seed = std::random_device{}();
  for (int64_t i = 0; i < params_.n * n_prompts_; ++i) {
    auto c = std::make_unique<Choice>(*ctx_->tokenizer);
    c->index = static_cast<int>(i);
    if (params_.chat) {
      c->parser.emplace(reasoning, tool_seed + static_cast<uint64_t>(i) * 1000, tool_parsing(params_, constraint));
      if (!forced_text.empty()) (void)c->parser->feed(forced_text);  // the call is open: only its rest is generated
    }
    if (params_.json_object) c->json.emplace(true);
    if (constraint.masker) c->grammar.emplace(constraint);
    c->opened_think = reasoning;
    if (params_.chat && params_.thinking_budget >= 0) {
      const auto ids = ctx_->tokenizer->encode("</think>", EncodeOptions{true, false});
      if (ids.size() == 1) c->think_budget = params_.thinking_budget, c->think_end = ids[0];
    }
    c->last = t0_;
    choices_.push_back(std::move(c));
  }
}

EngineRequest Session::engine_request(Choice* c, const std::vector<int32_t>& prompt, int64_t i) {
  const ServerContext& ctx = *ctx_;
  EngineRequest req;
  req.prompt = prompt;
  req.sampling = params_.sampling;
  req.sampling.seed = params_.sampling.seed + static_cast<uint64_t>(i);
  req.max_tokens = params_.max_tokens > 0 ? params_.max_tokens : ctx.limits.max_tokens;
  req.stop_tokens = ctx.end_tokens;
  req.logprobs = params_.logprobs;
  req.top_logprobs = params_.logprobs ? params_.top_logprobs : 0;
  req.deadline = deadline_;
  if (c->json || c->grammar || !params_.logit_bias.empty() || c->think_budget >= 0) {
    const ServerContext* cx = &ctx;
    const auto bias = params_.logit_bias;  // OpenAI's logit_bias: added to the logits, before any constraint
    req.logit_filter = [c, cx, bias](float* logits, int64_t n_vocab) {
      if (c->over_think_budget()) {  // the reasoning budget is spent: end it now
        const float keep = logits[c->think_end];
        std::fill(logits, logits + n_vocab, -std::numeric_limits<float>::infinity());
        logits[c->think_end] = std::isfinite(keep) ? keep : 0.0f;
        return;
      }
      for (const auto& [id, b] : bias)
        if (id < n_vocab) logits[id] += b;
      if (c->json) mask_logits(*c->json, cx->token_bytes, cx->end_tokens, logits);
      else if (c->grammar) c->grammar->mask(cx->end_tokens, logits);
    };
  }
  std::shared_ptr<Session> s = shared_from_this();
  req.on_token = [s, c](const TokenEvent& ev) { return s->on_token(*c, ev); };
  req.on_finish = [s, c](const FinishEvent& ev) { s->on_finish(*c, ev); };
  return req;
}

std::optional<ApiError> Session::submit_choices(const PromptPlan& plan) {
  for (int64_t i = 0; i < n_choices(); ++i) {  // OpenAI's order: every choice of prompt 0, then of prompt 1, ...
    const auto& prompt = plan.prompt(static_cast<size_t>(i / params_.n));
    auto sub = ctx_->engine->submit(engine_request(choices_[static_cast<size_t>(i)].get(), prompt, i % params_.n));
    if (sub.error != Engine::SubmitError::kNone) {
      for (auto& h : handles_) h->cancel();
      if (sub.error == Engine::SubmitError::kBusy) {
        ctx_->metrics->requests_rejected_busy++;
        return ApiError{429, "rate_limit_error", sub.message + "; retry shortly", "", "server_busy"};
      }
      return invalid(sub.message);
    }
    handles_.push_back(sub.handle);
  }
  return std::nullopt;
}

std::variant<std::shared_ptr<Session>, ApiError> Session::start(ServerContext& ctx, const CompletionParams& params) {
  std::shared_ptr<Session> s(new Session());
  s->ctx_ = &ctx;
  s->params_ = params;
  s->id_ = (params.chat ? "chatcmpl-" : "cmpl-") + random_hex(24);
  s->created_ = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  s->t0_ = std::chrono::steady_clock::now();
  s->deadline_ = s->t0_ + std::chrono::milliseconds(static_cast<int64_t>(ctx.timeout_seconds * 1000));
  auto planned = prompt_plan(ctx, params);
  if (auto* e = std::get_if<ApiError>(&planned)) return *e;
  const PromptPlan& plan = std::get<PromptPlan>(planned);
  if (auto e = check_model_fields(ctx, params)) return *e;
  s->n_prompts_ = static_cast<int64_t>(plan.n_prompts());
  for (size_t i = 0; i < plan.n_prompts(); ++i) s->prompt_tokens_ += static_cast<int64_t>(plan.prompt(i).size());
  OutputConstraint constraint;
  if (params.chat) {
    auto planned_constraint = plan_output_constraint(ctx, params, plan.reasoning, !plan.forced_text.empty());
    if (auto* e = std::get_if<ApiError>(&planned_constraint)) return *e;
    constraint = std::get<OutputConstraint>(planned_constraint);
  }
  s->add_choices(plan.reasoning, plan.forced_text, constraint);
  s->push_echo(plan);
  if (auto e = s->submit_choices(plan)) return *e;
  ctx.metrics->prompt_tokens += static_cast<uint64_t>(s->prompt_tokens_);
  return s;
}

Session::~Session() = default;

void Session::cancel() {
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
  }
  for (auto& h : handles_) h->cancel();
}

void Session::set_listener(std::function<void()> listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

void Session::cancel_with_reason(const std::string& finish_reason) {
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancel_reason_ = finish_reason;
  }
  cancel();
}

void Session::push(ChoiceDelta d, bool last) {
  {
    std::lock_guard lock(mu_);
    if (last) ++finished_;
    queue_.push_back(std::move(d));
  }
  cv_.notify_all();
  std::lock_guard lock(listener_mu_);
  if (listener_) listener_();
}

bool Session::poll(std::vector<ChoiceDelta>& out, std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (queue_.empty() && finished_ < n_choices()) cv_.wait_for(lock, wait, [&] { return !queue_.empty() || finished_ >= n_choices(); });
  while (!queue_.empty()) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return !(finished_ >= n_choices() && queue_.empty() && out.empty());
}

json Session::usage() const {
  std::lock_guard lock(mu_);
  return {{"prompt_tokens", prompt_tokens_},
          {"completion_tokens", completion_tokens_},
          {"total_tokens", prompt_tokens_ + completion_tokens_},
          {"prompt_cache_hit_tokens", cached_tokens_},
          {"prompt_cache_miss_tokens", prompt_tokens_ - cached_tokens_},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens_}}},
          {"completion_tokens_details", completion_details()}};
}

// OpenAI's predicted-output counts carry the speculative drafts when the server runs --spec.
json Session::completion_details() const {
  json d = {{"reasoning_tokens", reasoning_tokens_}};
  if (ctx_->engine && ctx_->engine->options().spec.method != SpecConfig::Method::kNone) {
    d["accepted_prediction_tokens"] = accepted_tokens_;
    d["rejected_prediction_tokens"] = drafted_tokens_ - accepted_tokens_;
  }
  return d;
}

void Session::emit_text(Choice& c, const std::string& text, ChoiceDelta& d) {
  if (text.empty()) return;
  if (!c.parser) {
    d.content += text;
    return;
  }
  ChatOutputDelta o = c.parser->feed(text);
  d.content += o.content;
  d.reasoning += o.reasoning;
  for (auto& t : o.tool_calls) d.tool_calls.push_back(std::move(t));
  for (auto& t : o.tool_call_parts) d.tool_call_parts.push_back(std::move(t));
}

bool Session::on_token(Choice& c, const TokenEvent& ev) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - c.last).count();
  if (c.n_tokens == 0) ctx_->metrics->ttft.observe(since);
  else ctx_->metrics->per_token.observe(since);
  c.last = now;
  ++c.n_tokens;
  ctx_->metrics->generated_tokens++;
  const Tokenizer& tok = *ctx_->tokenizer;
  if (c.json) c.json->feed(ctx_->token_bytes[static_cast<size_t>(ev.token)]);  // allowed by the mask
  if (c.grammar) c.grammar->on_token(ev.token);
  if (ev.token == c.think_end) c.think_closed = true;

  ChoiceDelta d;
  d.index = c.index;
  if (params_.logprobs) {
    const std::string_view b = tok.token_bytes(ev.token);
    json top = json::array();
    for (const auto& [id, lp] : ev.top) {
      const std::string_view tb = tok.token_bytes(id);
      top.push_back({{"token", valid_utf8(tb)}, {"logprob", lp}, {"bytes", bytes_array(tb)}});
    }
    d.logprobs.push_back({{"token", valid_utf8(b)}, {"logprob", ev.logprob}, {"bytes", bytes_array(b)}, {"top_logprobs", top}});
  }
  c.held += c.decoder.push(ev.token);
  bool more = true;
  size_t cut = std::string::npos;
  for (const auto& s : params_.stop)
    if (const size_t at = c.held.find(s); at < cut) cut = at, c.matched_stop = s;
  std::string out;
  if (cut != std::string::npos) {
    out = c.held.substr(0, cut);
    c.held.clear();
    c.stopped_by_string = true;
    more = false;
  } else {
    const size_t keep = stop_prefix_len(c.held, params_.stop);
    out = c.held.substr(0, c.held.size() - keep);
    c.held.erase(0, c.held.size() - keep);
  }
  emit_text(c, out, d);
  count_reasoning(c);
  if (!d.content.empty() || !d.reasoning.empty() || !d.tool_calls.empty() || !d.tool_call_parts.empty() || !d.logprobs.empty())
    push(std::move(d), false);
  return more;
}

void Session::count_reasoning(Choice& c) {
  if (c.reasoning_over || !c.parser) return;
  if (!c.parser->content().empty() || !c.parser->tool_calls().empty()) c.reasoning_over = true;
  else if (c.opened_think || !c.parser->reasoning().empty()) ++c.reasoning_tokens;
}

void Session::on_finish(Choice& c, const FinishEvent& ev) {
  ChoiceDelta d;
  d.index = c.index;
  if (!c.stopped_by_string) {
    // A character cut short by the length limit is dropped (its bytes are in
    // the token log-probabilities), so the text never ends in U+FFFD.
    std::string tail = c.decoder.flush();
    tail.resize(complete_utf8_prefix(tail));
    c.held += tail;
    size_t cut = std::string::npos;
    for (const auto& s : params_.stop)
      if (const size_t at = c.held.find(s); at < cut) cut = at, c.matched_stop = s;
    emit_text(c, c.held.substr(0, cut), d);
  }
  c.held.clear();
  if (c.parser) {
    ChatOutputDelta o = c.parser->finish();
    d.content += o.content;
    d.reasoning += o.reasoning;
    for (auto& t : o.tool_calls) d.tool_calls.push_back(std::move(t));
    for (auto& t : o.tool_call_parts) d.tool_call_parts.push_back(std::move(t));
  }
  const bool tools = c.parser && !c.parser->tool_calls().empty();
  d.stop_string = c.matched_stop;
  switch (ev.reason) {
    case FinishReason::kStop: d.finish_reason = tools ? "tool_calls" : "stop"; break;
    case FinishReason::kLength: {
      // The engine ends a request past its --timeout deadline as it ends one at max_tokens; tell them apart.
      const int64_t cap = params_.max_tokens > 0 ? params_.max_tokens : ctx_->limits.max_tokens;
      const bool late = std::chrono::steady_clock::now() >= deadline_ && ev.completion_tokens < cap;
      d.finish_reason = late ? "timeout" : "length";
      break;
    }
    case FinishReason::kCancelled: {
      std::lock_guard lock(mu_);
      d.finish_reason = cancel_reason_.empty() ? "cancelled" : cancel_reason_;
      if (c.index == 0) ctx_->metrics->requests_cancelled++;
      break;
    }
    case FinishReason::kError: d.finish_reason = "error"; d.error = ev.error; break;
  }
  {
    std::lock_guard lock(mu_);
    completion_tokens_ += ev.completion_tokens;
    drafted_tokens_ += ev.drafted_tokens;
    accepted_tokens_ += ev.accepted_tokens;
    reasoning_tokens_ += c.reasoning_tokens;
    if (c.index == 0) {
      cached_tokens_ = ev.cached_tokens;
      ctx_->metrics->cache_hit_tokens += static_cast<uint64_t>(ev.cached_tokens);
    }
  }
  push(std::move(d), true);
}

}  // namespace dseek::server
