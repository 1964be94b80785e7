// libFuzzer target: decode(encode(x)) == x for arbitrary bytes, on a small
// byte-level BPE tokenizer (trained in memory, with DeepSeek-style special
// tokens) and a small SentencePiece-style one with byte fallback; streaming
// decode must add up to the same bytes. Any difference aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/bpe_trainer.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace {

constexpr std::string_view kText =
    "Once upon a time there was a little dog. The dog liked to run in the park.\n"
    "def main():\n    return 42\n\n你好，世界。こんにちは。สวัสดีครับ ភាសាខ្មែរ 12345 😀👍 naïve café";

dseek::Tokenizer make_bpe() {
  auto trained = dseek::train_byte_bpe(kText, 420, "deepseek-v3");
  if (!trained.ok()) std::abort();
  dseek::TokenizerSpec spec;
  spec.tokens = trained->tokens;
  for (const auto& m : trained->merges) {
    const size_t sp = m.find(' ', 1);
    spec.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  for (const char* special : {"<｜begin▁of▁sentence｜>", "<｜User｜>", "<think>", "</think>"}) spec.tokens.push_back(special);
  spec.types.assign(spec.tokens.size(), 1);
  for (size_t i = spec.tokens.size() - 4; i < spec.tokens.size(); ++i) spec.types[i] = 3;
  spec.pre = *dseek::pretokenizer_spec("deepseek-v3");
  auto tok = dseek::Tokenizer::from_spec(std::move(spec));
  if (!tok.ok()) std::abort();
  return std::move(tok).value();
}

dseek::Tokenizer make_spm() {
  dseek::TokenizerSpec spec;
  spec.kind = dseek::TokenizerKind::kSpm;
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    spec.tokens.push_back(name);
    spec.types.push_back(6);
  }
  for (const char* piece : {"▁", "e", "t", "▁t", "he", "▁the", "a", "▁a", "n", "an", "d", "▁and", "你", "好", "你好"}) {
    spec.tokens.push_back(piece);
    spec.types.push_back(1);
  }
  spec.scores.assign(spec.tokens.size(), 0.0f);
  for (size_t i = 259; i < spec.scores.size(); ++i) spec.scores[i] = -static_cast<float>(i - 259);
  spec.unk_id = 0;
  spec.bos_id = 1;
  auto tok = dseek::Tokenizer::from_spec(std::move(spec));
  if (!tok.ok()) std::abort();
  return std::move(tok).value();
}

void check(const dseek::Tokenizer& tok, std::string_view text, bool parse_special) {
  const auto ids = tok.encode(text, {.parse_special = parse_special});
  if (tok.decode(ids) != text) std::abort();
  dseek::StreamDecoder sd(tok);
  std::string streamed;
  for (int32_t id : ids) streamed += sd.push(id);
  streamed += sd.flush();
  if (streamed != text) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const dseek::Tokenizer bpe = make_bpe();
  static const dseek::Tokenizer spm = make_spm();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(bpe, text, true);
  check(bpe, text, false);
  // SentencePiece spells spaces as U+2581, so a literal U+2581 decodes as ' ' (as in
  // SentencePiece itself): round trips hold only for text without it.
  if (text.find("\xE2\x96\x81") == std::string_view::npos) check(spm, text, false);
  return 0;
}
