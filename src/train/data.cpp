// See data.h.
#include "train/data.h"

#include <fstream>
#include <sstream>

#include "train/param.h"

namespace dseek::train {

Result<std::string> read_text_files(const std::vector<std::string>& files, size_t max_bytes) {
  std::string text;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error(path + ": cannot read");
    std::stringstream ss;
    ss << in.rdbuf();
    text += ss.str();
    if (!text.empty() && text.back() != '\n') text += '\n';
    if (text.size() >= max_bytes) {
      text.resize(max_bytes);
      break;
    }
  }
  if (text.empty()) return Status::error("the training data is empty");
  return text;
}

Result<TokenData> tokenize_for_training(const Tokenizer& tok, const std::string& text, double val_fraction,
                                        int64_t min_tokens, bool special_tokens) {
  if (val_fraction < 0 || val_fraction >= 0.5) return Status::error("val_fraction must be in [0, 0.5)");
  const std::vector<int32_t> ids = tok.encode(text, EncodeOptions{special_tokens, false});
  const auto n_val = static_cast<size_t>(static_cast<double>(ids.size()) * val_fraction);
  TokenData d;
  d.train.assign(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(n_val));
  d.val.assign(ids.end() - static_cast<std::ptrdiff_t>(n_val), ids.end());
  if (static_cast<int64_t>(d.train.size()) < min_tokens || (val_fraction > 0 && static_cast<int64_t>(d.val.size()) < min_tokens))
    return Status::error("the data gives " + std::to_string(ids.size()) + " tokens: too few for windows of " +
                         std::to_string(min_tokens) + " (use more text or a shorter seq_len)");
  return d;
}

WindowSampler::WindowSampler(std::span<const int32_t> tokens, int64_t window, uint64_t seed)
    : tokens_(tokens), window_(window), state_(seed) {}

void WindowSampler::sample(int64_t n, std::vector<int32_t>& out) {
  Rng rng(state_);
  state_ = rng.next();
  const uint64_t span = static_cast<uint64_t>(static_cast<int64_t>(tokens_.size()) - window_ + 1);
  for (int64_t i = 0; i < n; ++i) {
    const auto start = static_cast<size_t>(rng.next() % span);
    out.insert(out.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(start),
               tokens_.begin() + static_cast<std::ptrdiff_t>(start + static_cast<size_t>(window_)));
  }
}

int64_t WindowSampler::n_fixed() const { return static_cast<int64_t>(tokens_.size()) / window_; }

void WindowSampler::fixed(int64_t k, std::vector<int32_t>& out) const {
  const auto start = static_cast<size_t>(k * window_);
  out.insert(out.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(start),
             tokens_.begin() + static_cast<std::ptrdiff_t>(start + static_cast<size_t>(window_)));
}

}  // namespace dseek::train
