// See tokenizer.h.
#include "train/recipes/tokenizer.h"

#include <algorithm>
#include <chrono>

#include "core/progress.h"
#include "format/gguf_writer.h"
#include "tokenizer/default_vocab.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace dseek::train {

Result<TokenizerReport> train_tokenizer_file(const std::string& text, int64_t vocab, const std::string& pre,
                                             const std::string& out) {
  const size_t n_special = vocab_with_specials(TrainedBpe{}).tokens.size();
  const int64_t min_vocab = 256 + static_cast<int64_t>(n_special);
  if (vocab < min_vocab || vocab > (1 << 20))
    return Status::error("the vocabulary size must be between " + std::to_string(min_vocab) + " and 1048576");
  if (text.empty()) return Status::error("the training text is empty");
  const auto t0 = std::chrono::steady_clock::now();
  TrainedBpe bpe;
  {
    ProgressBar bar("merges", static_cast<uint64_t>(vocab) - 256 - n_special);
    auto trained = train_byte_bpe(text, static_cast<size_t>(vocab) - n_special, pre,
                                  [&](size_t done, size_t) { bar.update(done); });
    if (!trained.ok()) return Status::error("pre-tokenizer: " + trained.message());
    bpe = std::move(trained).value();
  }
  const GeneratedVocab v = vocab_with_specials(bpe);
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("tokenizer"));
  w.set("general.name", GgufValue::str("dseek-trained-bpe"));
  write_vocab_metadata(v, w, pre);
  if (Status st = w.write(out, [](size_t, std::span<std::byte>) { return ok_status(); }); !st.ok()) return st;
  auto tok = Tokenizer::load(out);
  if (!tok.ok()) return Status::error(out + ": written but does not load: " + tok.message());
  const std::string sample = text.substr(0, std::min<size_t>(text.size(), 1 << 20));
  const auto ids = tok->encode(sample, EncodeOptions{false, false});
  if (tok->decode(ids) != sample) return Status::error(out + ": round trip failed on the training text");
  TokenizerReport r;
  r.n_tokens = v.tokens.size();
  r.n_merges = v.merges.size();
  r.n_special = n_special;
  r.n_bytes = text.size();
  r.bytes_per_token = static_cast<double>(sample.size()) / static_cast<double>(std::max<size_t>(ids.size(), 1));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace dseek::train
