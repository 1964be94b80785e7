// See cmd_train_sft.h.
#include "cli/cmd_train_sft.h"

#include <cmath>
#include <cstdio>

#include "cli/common.h"
#include "core/file_identity.h"
#include "train/data.h"
#include "train/recipes/dialogues.h"

namespace dseek::cli {

CLI::App* add_sft(CLI::App& app, SftArgs& a) {
  train::SftConfig& c = a.c;
  CLI::App* s = app.add_subcommand("sft", "supervised fine-tuning on chat conversations (full, or LoRA with --lora R)");
  s->add_option("--model", c.model, "base model (.gguf, DeepSeek architecture, with a tokenizer and chat template)")->required();
  s->add_option("--data", c.data, "conversations, one {\"messages\": [{role, content}, ...]} per line (JSONL); with --text a plain text file")->required();
  s->add_option("--val-data", c.val_data, "held-out conversations (JSONL) for the validation CE (default: the tail of --data)");
  s->add_option("-o,--output", c.out, "output: the model .gguf, or with --lora the adapter .gguf (also OUT.log.json, OUT.svg)");
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
  s->add_option("--mtp-weight", c.mtp_weight, "weight of the MTP (next-next token) loss that keeps the MTP head drafting")
      ->capture_default_str();
  s->add_flag("--eval-only", c.eval_only, "no training: print the assistant-token cross-entropy of every conversation in --data");
  s->add_flag("--text", c.text, "--data / --val-data are plain text (every token a target, in --seq-len windows): "
                                "adapt a model to a language or domain");
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
  if (c.eval_only && c.text) {
    std::printf("%s on %s: cross-entropy %.4f, perplexity %.3f over %lld windows of %lld tokens\n", c.model.c_str(),
                c.data.c_str(), r->final_val_ce, std::exp(r->final_val_ce), static_cast<long long>(r->val_docs),
                static_cast<long long>(c.seq_len));
    return kExitOk;
  }
  if (c.eval_only) {
    std::printf("%s on %s: assistant-token cross-entropy %.4f over %lld conversations\n", c.model.c_str(), c.data.c_str(),
                r->final_val_ce, static_cast<long long>(r->val_docs));
    return kExitOk;
  }
  if (c.text) {
    std::printf("wrote %s (+ .log.json, .svg): %lld steps, %lld trainable parameters, validation CE %.4f -> %.4f "
                "(perplexity %.3f -> %.3f), last train CE %.4f\n",
                c.out.c_str(), static_cast<long long>(r->steps), static_cast<long long>(r->trainable), r->initial_val_ce,
                r->final_val_ce, std::exp(r->initial_val_ce), std::exp(r->final_val_ce), r->final_train_ce);
    return kExitOk;
  }
  std::printf("wrote %s (+ .log.json, .svg): %lld steps, %lld trainable parameters, assistant-token validation CE "
              "%.4f -> %.4f, last train CE %.4f (MTP %.4f)\n",
              c.out.c_str(), static_cast<long long>(r->steps), static_cast<long long>(r->trainable), r->initial_val_ce,
              r->final_val_ce, r->final_train_ce, r->final_train_mtp_ce);
  return kExitOk;
}

CLI::App* add_dialogues(CLI::App& app, DialogueArgs& a) {
  CLI::App* d = app.add_subcommand("dialogues", "a chat corpus for sft from a play script (tinyshakespeare's layout)");
  d->add_option("script", a.script, "the play script: \"SPEAKER:\" lines, speeches, blank lines between")->required();
  d->add_option("-o,--output", a.out, "training conversations (JSONL, {\"messages\": [system, user, assistant]})")->required();
  d->add_option("--heldout", a.heldout, "held-out conversations (JSONL; default: OUT with .heldout.jsonl)");
  d->add_option("--heldout-fraction", a.opt.heldout_fraction, "the script's tail (by bytes) whose replies are held out")
      ->capture_default_str();
  d->add_option("--max-user-chars", a.opt.max_user_chars, "skip pairs whose first speech is longer")->capture_default_str();
  d->add_option("--max-reply-chars", a.opt.max_reply_chars, "skip pairs whose reply is longer")->capture_default_str();
  return d;
}

int train_dialogues(DialogueArgs& a) {
  if (!(a.opt.heldout_fraction > 0 && a.opt.heldout_fraction < 0.5)) return report("--heldout-fraction must be in (0, 0.5)");
  if (a.heldout.empty()) a.heldout = (a.out.ends_with(".jsonl") ? a.out.substr(0, a.out.size() - 6) : a.out) + ".heldout.jsonl";
  for (const std::string& path : {a.out, a.heldout})
    if (Status st = check_output_is_not_input(path, {a.script}); !st.ok()) return report(st);
  if (a.out == a.heldout) return report("-o and --heldout must differ");
  auto text = train::read_text_files({a.script}, size_t{256} << 20);
  if (!text.ok()) return report(text.status());
  const train::DialogueCorpus c = train::build_dialogues(*text, a.opt);
  if (c.train.empty() || c.heldout.empty()) return report(a.script + ": no speaker turns found (expected \"NAME:\" lines)");
  if (Status st = train::write_dialogues(c, a.out, a.heldout); !st.ok()) return report(st);
  std::printf("wrote %s: %zu conversations, %s: %zu held out (%zu pairs skipped as too long)\n", a.out.c_str(),
              c.train.size(), a.heldout.c_str(), c.heldout.size(), c.skipped_long);
  return kExitOk;
}

}  // namespace dseek::cli
