// `dseek train sft`: supervised fine-tuning of a DeepSeek-architecture GGUF on
// conversations (OpenAI `messages` JSONL) rendered with the model's own chat
// template, the loss on assistant tokens only, documents packed whole into
// rows with attention restarting at each document. Full fine-tuning (writes a
// model GGUF) or LoRA on the projections --lora-targets selects (writes an
// adapter GGUF for `--lora` / `dseek merge-lora`). The MTP loss is kept
// (--mtp-weight) so that speculative decoding still works on the result. Same AdamW, schedule,
// progress bar, JSON log and SVG plot as pretrain; full fine-tuning also
// writes resumable checkpoints (OUT.ckpt). With `text`, the data is plain
// text instead and the loss covers every token (language/domain adaptation).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "train/lora.h"
#include "train/optimizer.h"

namespace dseek::train {

struct SftConfig {
  std::string model, data, out;
  std::string val_data;       // held-out conversations; empty: the last val_fraction of `data`
  int64_t steps = 200, batch = 4, seq_len = 256, eval_every = 20, checkpoint_every = 0;
  AdamWConfig adam{.lr = 1e-4, .min_lr = 1e-5, .weight_decay = 0.0, .warmup = 10};
  bool lora = false;
  LoraConfig lora_cfg;
  double val_fraction = 0.1;  // of the conversations, held out (at least one when there are two or more)
  uint64_t seed = 1;
  int threads = 2;
  bool resume = false;        // full fine-tuning: continue from OUT.ckpt
  int64_t max_steps = -1;     // stop after this many steps this run (tests)
  // Weight of the MTP loss (next-next token over every token of the packed
  // conversations), so that the MTP head keeps drafting well for `--spec mtp`
  // after the trunk moves; 0 leaves the MTP module untouched.
  double mtp_weight = 0.3;
  bool eval_only = false;     // no training: the assistant-token CE of every conversation in `data`
  // data / val_data are plain text, cut into seq_len windows with every token
  // a target: continued pretraining, e.g. a LoRA adapter for a new language.
  bool text = false;
};

struct SftSummary {
  int64_t steps = 0, train_docs = 0, val_docs = 0, trainable = 0;
  double initial_val_ce = 0, final_val_ce = 0, final_train_ce = 0;  // assistant-token cross-entropy
  double final_train_mtp_ce = 0;                                    // MTP cross-entropy of the last step
};

// Range-checks the numbers (the message names the option).
Status check_sft_config(const SftConfig& c);
Result<SftSummary> run_sft(const SftConfig& c);

}  // namespace dseek::train
