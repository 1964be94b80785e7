// See response.h.
#include "server/response.h"

namespace dseek::server {

using nlohmann::json;

ResponseBuilder::ResponseBuilder(std::string model, const CompletionParams& p, const Session& s)
    : model_(std::move(model)), id_(s.id()), created_(s.created()), chat_(p.chat), stream_usage_(p.include_usage),
      logprobs_(p.logprobs), acc_(static_cast<size_t>(s.n_choices())), text_offset_(acc_.size(), 0) {}

json ResponseBuilder::envelope(const char* object) const {
  return {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}, {"system_fingerprint", "dseek"}};
}

json ResponseBuilder::tool_call_json(const ToolCall& t, bool with_index) {
  json j = {{"id", t.id}, {"type", "function"}, {"function", {{"name", t.name}, {"arguments", t.arguments}}}};
  if (with_index) j["index"] = t.index;
  return j;
}

// Streamed calls in OpenAI's shape, one array per chunk: a call's first part
// alone {index, id, type, function: {name, arguments: ""}}, then its fragments
// {index, function: {arguments}} (those of one call within a delta joined).
std::vector<json> ResponseBuilder::tool_call_chunks(const std::vector<ToolCallPart>& parts) {
  std::vector<json> chunks;
  for (const ToolCallPart& p : parts) {
    if (!p.name.empty()) {
      chunks.push_back(json::array({{{"index", p.index}, {"id", p.id}, {"type", "function"},
                                     {"function", {{"name", p.name}, {"arguments", ""}}}}}));
      chunks.push_back(json::array());
      continue;
    }
    if (chunks.empty()) chunks.push_back(json::array());
    json& calls = chunks.back();
    if (!calls.empty() && calls.back()["index"] == p.index) {
      json& args = calls.back()["function"]["arguments"];
      args = args.get<std::string>() + p.arguments;
    } else {
      calls.push_back({{"index", p.index}, {"function", {{"arguments", p.arguments}}}});
    }
  }
  std::erase_if(chunks, [](const json& c) { return c.empty(); });
  return chunks;
}

// The legacy completions format: parallel arrays.
json ResponseBuilder::completion_logprobs(const json& entries, size_t text_offset) const {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  for (const json& e : entries) {
    tokens.push_back(e["token"]);
    lps.push_back(e["logprob"]);
    json top = json::object();
    for (const json& t : e["top_logprobs"]) top[t["token"].get<std::string>()] = t["logprob"];
    tops.push_back(top);
    offsets.push_back(text_offset);
    text_offset += e["token"].get<std::string>().size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

void ResponseBuilder::add(const ChoiceDelta& d) {
  Acc& a = acc_[static_cast<size_t>(d.index)];
  a.content += d.content;
  a.reasoning += d.reasoning;
  for (const auto& t : d.tool_calls) a.tool_calls.push_back(tool_call_json(t, false));
  for (const auto& e : d.logprobs) a.logprobs.push_back(e);
  if (!d.finish_reason.empty()) a.finish_reason = d.finish_reason;
  if (!d.error.empty() && error_.empty()) error_ = d.error;
}

json ResponseBuilder::whole(const json& usage) const {
  json out = envelope(chat_ ? "chat.completion" : "text_completion");
  json choices = json::array();
  for (size_t i = 0; i < acc_.size(); ++i) {
    const Acc& a = acc_[i];
    json c = {{"index", i}, {"finish_reason", a.finish_reason}};
    if (chat_) {
      json msg = {{"role", "assistant"}, {"content", a.content}};
      if (!a.reasoning.empty()) msg["reasoning_content"] = a.reasoning;
      if (!a.tool_calls.empty()) {
        msg["tool_calls"] = a.tool_calls;
        if (a.content.empty()) msg["content"] = nullptr;
      }
      c["message"] = msg;
      c["logprobs"] = logprobs_ ? json{{"content", a.logprobs}} : json(nullptr);
    } else {
      c["text"] = a.content;
      c["logprobs"] = logprobs_ ? completion_logprobs(a.logprobs, 0) : json(nullptr);
    }
    choices.push_back(c);
  }
  out["choices"] = choices;
  out["usage"] = usage;
  return out;
}

std::string ResponseBuilder::first_chunks() {
  started_ = true;
  if (!chat_) return {};
  std::string out;
  for (size_t i = 0; i < acc_.size(); ++i) {
    json j = envelope("chat.completion.chunk");
    j["choices"] = json::array({{{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
    out += sse(j);
  }
  return out;
}

std::string ResponseBuilder::chunk(const ChoiceDelta& d) {
  std::string out;
  if (!d.error.empty()) {
    out += sse(ApiError{500, "server_error", d.error, "", ""}.body());
    return out;
  }
  const std::vector<json> calls = chat_ ? tool_call_chunks(d.tool_call_parts) : std::vector<json>{};
  const bool has_text = !d.content.empty() || !d.reasoning.empty() || !calls.empty() || !d.logprobs.empty();
  if (has_text) {
    json j = envelope(chat_ ? "chat.completion.chunk" : "text_completion");
    json c = {{"index", d.index}, {"finish_reason", nullptr}};
    if (chat_) {
      json delta = json::object();
      if (!d.content.empty()) delta["content"] = d.content;
      if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
      if (!calls.empty()) delta["tool_calls"] = calls[0];
      c["delta"] = delta;
      c["logprobs"] = logprobs_ ? json{{"content", d.logprobs}} : json(nullptr);
    } else {
      c["text"] = d.content;
      c["logprobs"] = logprobs_ ? completion_logprobs(d.logprobs, text_offset_[static_cast<size_t>(d.index)]) : json(nullptr);
      text_offset_[static_cast<size_t>(d.index)] += d.content.size();
    }
    j["choices"] = json::array({c});
    out += sse(j);
  }
  for (size_t i = 1; i < calls.size(); ++i) {  // each later piece of a call in a chunk of its own
    json j = envelope("chat.completion.chunk");
    j["choices"] = json::array({{{"index", d.index}, {"delta", {{"tool_calls", calls[i]}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
    out += sse(j);
  }
  if (!d.finish_reason.empty() && d.finish_reason != "cancelled" && d.finish_reason != "error") {
    json j = envelope(chat_ ? "chat.completion.chunk" : "text_completion");
    json c = {{"index", d.index}, {"finish_reason", d.finish_reason}, {"logprobs", nullptr}};
    if (chat_) c["delta"] = json::object();
    else c["text"] = "";
    j["choices"] = json::array({c});
    out += sse(j);
  }
  return out;
}

std::string ResponseBuilder::last_chunks(const json& usage) {
  std::string out;
  if (stream_usage_) {
    json j = envelope(chat_ ? "chat.completion.chunk" : "text_completion");
    j["choices"] = json::array();
    j["usage"] = usage;
    out += sse(j);
  }
  out += "data: [DONE]\n\n";
  return out;
}

}  // namespace dseek::server
