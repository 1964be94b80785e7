// See speculative.h: configuration, statistics and the drafter factory.
#include "runtime/speculative.h"

#include <charconv>

#include "runtime/mtp_draft.h"
#include "runtime/ngram_draft.h"

namespace dseek {

Result<SpecConfig> parse_spec(std::string_view text) {
  SpecConfig c;
  if (text.empty() || text == "none") return c;
  const size_t colon = text.find(':');
  const std::string_view method = text.substr(0, colon);
  if (method == "ngram") c = {SpecConfig::Method::kNgram, 4};
  else if (method == "mtp") c = {SpecConfig::Method::kMtp, 1};
  else return Status::error("--spec: unknown method '" + std::string(method) + "' (ngram[:N] or mtp[:N])");
  if (colon != std::string_view::npos) {
    const std::string_view n = text.substr(colon + 1);
    const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), c.draft);
    if (ec != std::errc() || end != n.data() + n.size() || c.draft < 1 || c.draft > 16)
      return Status::error("--spec: the draft length after ':' must be a number from 1 to 16");
  }
  return c;
}

const char* spec_method_name(SpecConfig::Method m) {
  switch (m) {
    case SpecConfig::Method::kNgram: return "ngram";
    case SpecConfig::Method::kMtp: return "mtp";
    default: return "none";
  }
}

void SpecStats::count(size_t position, bool ok) {
  if (proposed.size() <= position) {
    proposed.resize(position + 1, 0);
    accepted.resize(position + 1, 0);
  }
  ++proposed[position];
  if (ok) ++accepted[position];
}

double SpecStats::acceptance(size_t position) const {
  if (position >= proposed.size() || proposed[position] == 0) return 0.0;
  return static_cast<double>(accepted[position]) / static_cast<double>(proposed[position]);
}

Status check_spec(const SpecConfig& config, const Model& model) {
  if (config.method == SpecConfig::Method::kMtp && !model.has_mtp())
    return Status::error("--spec mtp: this model has no multi-token-prediction layer (use --spec ngram)");
  return ok_status();
}

Result<std::unique_ptr<Drafter>> make_drafter(const SpecConfig& config, const Model& model, ThreadPool& pool,
                                              int64_t n_ctx) {
  switch (config.method) {
    case SpecConfig::Method::kNgram: return std::unique_ptr<Drafter>(new NgramDrafter());
    case SpecConfig::Method::kMtp:
      if (Status st = check_spec(config, model); !st.ok()) return st;
      return std::unique_ptr<Drafter>(new MtpDrafter(model, pool, n_ctx));
    default: return Status::error("speculative decoding is off (--spec none)");
  }
}

}  // namespace dseek
