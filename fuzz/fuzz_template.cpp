// libFuzzer target: the Jinja chat-template engine. Arbitrary bytes are parsed
// as a template and rendered against a small fixed conversation; parsing and
// rendering must end (bounded work, depth and output) without crashing.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "tokenizer/jinja/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::json ctx = nlohmann::json::parse(R"({
    "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hé"},
                 {"role": "assistant", "content": null, "tool_calls": [{"type": "function",
                   "function": {"name": "f", "arguments": {"a": [1, 2.5, true]}}}]},
                 {"role": "tool", "content": "42"}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "thinking": false})");
  auto t = dseek::ChatTemplate::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (t.ok()) (void)t->render(ctx);
  return 0;
}
