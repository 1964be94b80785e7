// See cmd_train_sft.h.
#include "cli/cmd_train_sft.h"

#include <cstdio>

#include "cli/common.h"

namespace dseek::cli {

CLI::App* add_sft(CLI::App& app, SftArgs& a) {
  train::SftConfig& c = a.c;
  CLI::App* s = app.add_subcommand("sft", "supervised fine-tuning on chat conversations (full, or LoRA with --lora R)");
  s->add_option("--model", c.model, "base model (.gguf, DeepSeek architecture, with a tokenizer and chat template)")->required();
  s->add_option("--data", c.data, "conversations, one {\"messages\": [{role, content}, ...]} per line (JSONL)")->required();
  s->add_option("-o,--output", c.out, "output: the model .gguf, or with --lora the adapter .gguf (also OUT.log.json, OUT.svg)")->required();
  s->add_option("--lora", a.lora_rank, "train a LoRA adapter of this rank instead of all weights");
  s->add_option("--lora-alpha", c.lora_cfg.alpha, "LoRA alpha (the update is scaled by alpha / rank)")->capture_default_str();
  s->add_option("--lora-targets", c.lora_cfg.targets, "regex over GGUF tensor names: the projections to adapt")->capture_default_str();
  s->add_option("--steps", c.steps, "optimiser steps")->capture_default_str();
  s->add_option("--batch", c.batch, "packed rows per step")->capture_default_str();
  s->add_option("--seq-len", c.seq_len, "tokens per row (conversations are packed whole; longer ones are cut)")->capture_default_str();
  s->add_option("--lr", c.adam.lr, "peak learning rate (warmup, then cosine)")->capture_default_str();
  s->add_option("--warmup", c.adam.warmup, "warmup steps")->capture_default_str();
  s->add_option("--weight-decay", c.adam.weight_decay, "AdamW weight decay")->capture_default_str();
  s->add_option("--eval-every", c.eval_every, "steps between validation evaluations")->capture_default_str();
  s->add_option("--val-fraction", c.val_fraction, "share of conversations held out")->capture_default_str();
  s->add_option("--checkpoint-every", c.checkpoint_every, "steps between checkpoints (0: at the end only)")->capture_default_str();
  s->add_option("--seed", c.seed, "seed (LoRA initialisation)")->capture_default_str();
  s->add_option("-t,--threads", c.threads, "threads")->capture_default_str();
  s->add_flag("--resume", c.resume, "full fine-tuning: continue from OUT.ckpt if it exists");
  s->add_option("--max-steps", c.max_steps, "stop after this many steps in this run (the schedule still spans all)");
  return s;
}

int train_sft(SftArgs& a) {
  train::SftConfig& c = a.c;
  if (a.lora_rank < 0) return report("--lora must be a positive rank");
  c.lora = a.lora_rank > 0;
  c.lora_cfg.rank = a.lora_rank;
  c.lora_cfg.seed = c.seed;
  c.adam.min_lr = c.adam.lr / 10;
  auto r = train::run_sft(c);
  if (!r.ok()) return report(r.status());
  std::printf("wrote %s (+ .log.json, .svg): %lld steps, %lld trainable parameters, assistant-token validation CE "
              "%.4f -> %.4f, last train CE %.4f\n",
              c.out.c_str(), static_cast<long long>(r->steps), static_cast<long long>(r->trainable), r->initial_val_ce,
              r->final_val_ce, r->final_train_ce);
  return kExitOk;
}

}  // namespace dseek::cli
