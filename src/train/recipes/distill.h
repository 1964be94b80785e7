// `dseek train distill`: a student (the config's MLA + MoE model) learns from a
// teacher loaded by the inference engine (any architecture dseek runs, same
// vocabulary): logit distillation on the data, optionally on text the teacher
// itself samples (sequence-level distillation). The pretraining loop does the
// rest; the tokenizer is the teacher's.
#pragma once

#include <memory>
#include <string>

#include "model/model.h"
#include "train/recipes/pretrain.h"

namespace dseek::train {

// `teacher_path` names the GGUF the teacher was loaded from (its tokenizer is copied into the student).
Result<PretrainSummary> run_distill(const PretrainConfig& cfg, PretrainRun run, std::shared_ptr<const Model> teacher,
                                    const std::string& teacher_path);

}  // namespace dseek::train
