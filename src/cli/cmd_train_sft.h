// `dseek train sft` (the recipe in train/recipes/sft.h): its options and run.
#pragma once

#include <CLI/CLI.hpp>

#include "train/recipes/sft.h"

namespace dseek::cli {

struct SftArgs {
  train::SftConfig c;
  int64_t lora_rank = 0;  // 0: full fine-tuning
};

CLI::App* add_sft(CLI::App& app, SftArgs& a);
int train_sft(SftArgs& a);

}  // namespace dseek::cli
