// `dseek train <recipe>`: the DeepSeek training recipe at small scale. Each
// recipe is a CLI11 subcommand with its own --help. Today: `tokenizer`, a
// byte-level BPE trainer for a local language or corpus, written as a
// vocabulary-only GGUF that dseek's tokenizer loads and `dseek init
// --tokenizer` builds models on.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/progress.h"
#include "model/default_vocab.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace dseek::cli {
namespace {

int train_tokenizer(int64_t vocab, const std::vector<std::string>& data, const std::string& out, const std::string& pre,
                    size_t max_bytes) {
  const int64_t min_vocab = 256 + 32;
  if (vocab < min_vocab || vocab > (1 << 20)) return report("--vocab must be between " + std::to_string(min_vocab) + " and 1048576");
  std::string text;
  for (const auto& path : data) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return report(path + ": cannot read");
    std::stringstream ss;
    ss << in.rdbuf();
    text += ss.str();
    if (!text.empty() && text.back() != '\n') text += '\n';
    if (text.size() > max_bytes) {
      text.resize(max_bytes);
      std::fprintf(stderr, "dseek train tokenizer: using the first %zu bytes of the data (--max-bytes)\n", max_bytes);
      break;
    }
  }
  if (text.empty()) return report("the training data is empty");
  const auto t0 = std::chrono::steady_clock::now();
  const size_t n_special = vocab_with_specials(TrainedBpe{}).tokens.size();
  TrainedBpe bpe;
  {
    ProgressBar bar("merges", static_cast<uint64_t>(vocab) - 256 - n_special);
    auto trained = train_byte_bpe(text, static_cast<size_t>(vocab) - n_special, pre,
                                  [&](size_t done, size_t) { bar.update(done); });
    if (!trained.ok()) return report("--pre: " + trained.message());
    bpe = std::move(trained).value();
  }
  const GeneratedVocab v = vocab_with_specials(bpe);
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("tokenizer"));
  w.set("general.name", GgufValue::str("dseek-trained-bpe"));
  write_vocab_metadata(v, w, pre);
  if (Status st = w.write(out, [](size_t, std::span<std::byte>) { return ok_status(); }); !st.ok()) return report(st);
  // Check what was written by loading it back and measuring it on the data.
  auto tok = Tokenizer::load(out);
  if (!tok.ok()) return report(out + ": written but does not load: " + tok.message());
  const std::string sample = text.substr(0, std::min<size_t>(text.size(), 1 << 20));
  const auto ids = tok->encode(sample, EncodeOptions{false, false});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (tok->decode(ids) != sample) return report(out + ": round trip failed on the training text");
  std::printf("wrote %s: %zu tokens (%zu merges, %zu special), pre-tokenizer %s, trained on %zu bytes in %.1f s\n",
              out.c_str(), v.tokens.size(), v.merges.size(), n_special, pre.c_str(), text.size(), secs);
  std::printf("compression on the data: %.2f bytes per token\n", static_cast<double>(sample.size()) / static_cast<double>(ids.size()));
  return kExitOk;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  CLI::App app("Train: the DeepSeek recipe at small scale. Recipes: tokenizer.", "train");
  app.require_subcommand(1);
  CLI::App* tk = app.add_subcommand("tokenizer", "train a byte-level BPE tokenizer on text files (vocabulary-only GGUF)");
  int64_t vocab = 8192;
  std::vector<std::string> data;
  std::string out, pre = "deepseek-v3";
  size_t max_bytes = size_t{64} << 20;
  tk->add_option("--vocab", vocab, "vocabulary size, special tokens included")->capture_default_str();
  tk->add_option("--data", data, "training text files")->required();
  tk->add_option("-o,--output", out, "output .gguf (vocabulary only)")->required();
  tk->add_option("--pre", pre, "pre-tokenizer: deepseek-v3, deepseek-llm, deepseek-coder, qwen2, llama-bpe, gpt2")->capture_default_str();
  tk->add_option("--max-bytes", max_bytes, "train on at most this many bytes of the data")->capture_default_str();
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (tk->parsed()) return train_tokenizer(vocab, data, out, pre, max_bytes);
  return report("no recipe given (see dseek train --help)");
}

}  // namespace dseek::cli
