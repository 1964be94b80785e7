// `dseek train sft` (the recipe in train/recipes/sft.h) and `dseek train
// dialogues` (its chat corpus from a play, train/recipes/dialogues.h): options and runs.
#pragma once

#include <CLI/CLI.hpp>

#include "train/recipes/dialogues.h"
#include "train/recipes/sft.h"

namespace dseek::cli {

struct SftArgs {
  train::SftConfig c;
  int64_t lora_rank = 0;  // 0: full fine-tuning
};

CLI::App* add_sft(CLI::App& app, SftArgs& a);
int train_sft(SftArgs& a);

struct DialogueArgs {
  std::string script, out, heldout;
  train::DialogueOptions opt;
};

CLI::App* add_dialogues(CLI::App& app, DialogueArgs& a);
int train_dialogues(DialogueArgs& a);

}  // namespace dseek::cli
