// Resumable training checkpoints: parameters, AdamW moments, balancing
// biases, the step, the config, the data sampler's position and the log so
// far, as a GGUF of f32 tensors with a CRC-32 over all of it. A resumed run
// continues exactly as the uninterrupted run would have (same batches, same
// updates) and its log and plot continue the earlier ones. A checkpoint whose
// checksum does not match (a flipped bit, a torn copy) is refused.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "train/optimizer.h"
#include "train/train_model.h"

namespace dseek::train {

// What a recipe keeps beyond the model and the optimizer.
struct RecipeState {
  uint64_t sampler = 0;  // WindowSampler::state() after the last step
  std::string history;   // the recipe's log entries so far (JSON text; "" for none)
};

// `config_json` is stored verbatim so a resumed run can check it trains the same model.
Status save_checkpoint(TrainModel<float>& m, AdamW& opt, const std::string& config_json, const std::string& path,
                       const RecipeState& state = {});
// Checks the checksum first, then restores parameters, moments, biases, the
// step and (when `state` is given) the recipe's state; fails when the file is
// damaged or the shapes or the config differ, changing nothing then.
Status load_checkpoint(TrainModel<float>& m, AdamW& opt, const std::string& config_json, const std::string& path,
                       RecipeState* state = nullptr);

}  // namespace dseek::train
