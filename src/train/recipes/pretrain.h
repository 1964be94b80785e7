// `dseek train pretrain`: next-token + MTP pretraining of a DeepSeek-
// architecture model (MLA + DeepSeekMoE, noaux_tc routing with the
// auxiliary-loss-free bias, the small sequence-wise balance loss) from a
// config.json, on text files. Writes the model as GGUF, a JSON log, an SVG of
// the curves, and resumable checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/deepseek.h"
#include "train/optimizer.h"
#include "train/train_model.h"

namespace dseek::train {

// `dseek train distill`: logit distillation (KL to the teacher's distribution
// at a temperature, mixed with cross-entropy) and sequence-level distillation
// (the student also trains on text the teacher samples).
struct DistillConfig {
  double kd_weight = 1.0, ce_weight = 0.0, temperature = 1.0;
  int64_t samples = 0, sample_tokens = 128;  // sequence-level: teacher samples added to the data
  double sample_temperature = 1.0;
};

struct PretrainConfig {
  DeepseekHParams model;
  int64_t seq_len = 128, batch = 8, grad_accum = 1, steps = 1000;
  int64_t eval_every = 100, eval_windows = 16, checkpoint_every = 0;
  AdamWConfig adam;
  LossOptions loss;
  double bias_update_rate = 1e-3;  // gamma of auxiliary-loss-free balancing; 0 disables
  double val_fraction = 0.05;
  uint64_t seed = 1;
  size_t max_bytes = size_t{64} << 20;
  std::string export_dtype = "f32";
  bool special_tokens = false;  // the data's special-token text (<think>, …) becomes those tokens
  DistillConfig distill;  // used by `train distill` only
  nlohmann::json source;  // the config as given (stored in checkpoints and the log)
};

// {"model": {HF DeepSeek config.json keys}, "training": {...}}; every value range-checked.
Result<PretrainConfig> parse_pretrain_config(const nlohmann::json& j);

struct PretrainRun {
  std::vector<std::string> data;
  std::string tokenizer;   // GGUF vocabulary or tokenizer.json; empty: train one (vocab_size of the config)
  std::string out;         // model GGUF; the log is OUT.log.json, the plot OUT.svg, checkpoints OUT.ckpt
  int threads = 2;
  bool resume = false;     // continue from OUT.ckpt when it exists
  int64_t max_steps = -1;  // stop early after this many steps this run (tests), still writing everything
  // Distillation: the teacher's logits [n_seq*seq_len x V] for a batch; empty: pretraining.
  std::function<Status(std::span<const int32_t>, int64_t, std::vector<float>&)> teacher;
  std::string recipe = "pretrain";
};

struct PretrainSummary {
  int64_t steps = 0;
  double final_train_ce = 0, final_val_ce = 0, tokens_per_s = 0, load_max_over_mean = 0;
  double final_val_kd = 0;  // distillation: mean KL(teacher || student) per position on validation windows
};

Result<PretrainSummary> run_pretrain(const PretrainConfig& cfg, const PretrainRun& run);

}  // namespace dseek::train
