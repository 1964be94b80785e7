// libFuzzer target: OpenAI request bodies (/v1/chat/completions and
// /v1/completions). Arbitrary bytes must parse into validated parameters or an
// error naming the problem; every accepted request's fields obey their ranges.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool chat = (data[0] & 1) != 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  dseek::server::RequestLimits limits;
  auto r = dseek::server::parse_completion_request(body, chat, limits);
  if (auto* e = std::get_if<dseek::server::ApiError>(&r)) {
    if (e->status < 400 || e->status > 499 || e->message.empty()) std::abort();
    (void)e->body().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return 0;
  }
  const auto& p = std::get<dseek::server::CompletionParams>(r);
  if (p.n < 1 || p.n > limits.max_n) std::abort();
  if (p.max_tokens != -1 && (p.max_tokens < 1 || p.max_tokens > limits.max_tokens)) std::abort();
  if (p.top_logprobs < 0 || p.top_logprobs > 20 || p.stop.size() > limits.max_stop) std::abort();
  if (!(p.sampling.temperature >= 0 && p.sampling.temperature <= 2)) std::abort();
  if (chat && (!p.messages.is_array() || p.messages.empty())) std::abort();
  return 0;
}
