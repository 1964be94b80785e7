// Fuzz target: a training config (`dseek train pretrain/distill --config`).
// Any bytes must give a config or an error, never a crash or a hang; an
// accepted config must have sane sizes.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "train/recipes/pretrain.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  auto c = dseek::train::parse_pretrain_config(j);
  if (!c.ok()) return 0;
  if (c->seq_len < 2 || c->seq_len > c->model.n_ctx || c->batch < 1 || c->steps < 1 || c->model.n_vocab <= 0 ||
      !(c->adam.lr >= 0) || c->distill.temperature <= 0)
    std::abort();
  return 0;
}
