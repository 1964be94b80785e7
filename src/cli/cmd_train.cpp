// `dseek train <recipe>`: the DeepSeek training recipe at small scale. Each
// recipe is a CLI11 subcommand with its own --help: `tokenizer` (byte-level
// BPE), `pretrain`, `distill`, `grpo`. This file parses arguments and reports;
// the recipes live in src/train/recipes/.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/file_identity.h"
#include <nlohmann/json.hpp>

#include "train/data.h"
#include "cli/cmd_train_sft.h"
#include "cli/load_model.h"
#include "train/recipes/arithmetic.h"
#include "train/recipes/distill.h"
#include "train/recipes/grpo.h"
#include "train/recipes/pretrain.h"
#include "train/recipes/tokenizer.h"

namespace dseek::cli {
namespace {

// A recipe writes OUT and companions named OUT + suffix: none may be one of
// its inputs (it would be destroyed) or a directory (found now, not after training).
Status check_outputs(const std::string& out, const std::vector<std::string>& suffixes,
                     const std::vector<std::string>& inputs) {
  for (const std::string& suffix : suffixes) {
    const std::string path = out + suffix;
    if (std::filesystem::is_directory(path))
      return Status::error(path + ": is a directory; the training run writes a file there (choose another -o)");
    if (Status st = check_output_is_not_input(path, inputs); !st.ok()) return st;
  }
  return ok_status();
}


int train_tokenizer(int64_t vocab, const std::vector<std::string>& data, const std::string& out, const std::string& pre,
                    size_t max_bytes) {
  if (Status st = check_outputs(out, {""}, data); !st.ok()) return report(st);
  auto text = train::read_text_files(data, max_bytes);
  if (!text.ok()) return report(text.status());
  auto r = train::train_tokenizer_file(*text, vocab, pre, out);
  if (!r.ok()) return report("train tokenizer --vocab " + std::to_string(vocab) + " --pre " + pre + ": " + r.message());
  std::printf("wrote %s: %zu tokens (%zu merges, %zu special), pre-tokenizer %s, trained on %zu bytes in %.1f s\n",
              out.c_str(), r->n_tokens, r->n_merges, r->n_special, pre.c_str(), r->n_bytes, r->seconds);
  std::printf("compression on the data: %.2f bytes per token\n", r->bytes_per_token);
  return kExitOk;
}

Result<train::PretrainConfig> read_config(const std::string& config_path) {
  std::ifstream in(config_path);
  if (!in) return Status::error(config_path + ": cannot read");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return Status::error(config_path + ": not valid JSON");
  auto cfg = train::parse_pretrain_config(j);
  if (!cfg.ok()) return Status::error(config_path + ": " + cfg.message());
  return cfg;
}

void print_summary(const std::string& out, const train::PretrainSummary& r, bool distill) {
  std::printf("wrote %s (+ .log.json, .svg, .ckpt): %lld steps, train CE %.4f, validation CE %.4f, %.0f tokens/s, "
              "expert load max/mean %.2f",
              out.c_str(), static_cast<long long>(r.steps), r.final_train_ce, r.final_val_ce, r.tokens_per_s,
              r.load_max_over_mean);
  if (distill) std::printf(", validation KL to the teacher %.4f", r.final_val_kd);
  std::printf("\n");
}

int train_distill(const std::string& teacher_path, const std::string& config_path, const std::vector<std::string>& data,
                  const std::string& out, int threads, bool resume, int64_t max_steps) {
  if (threads < 1 || threads > 1024) return report("--threads must be between 1 and 1024");
  std::vector<std::string> inputs = data;
  inputs.insert(inputs.end(), {config_path, teacher_path});
  if (Status st = check_outputs(out, {"", ".log.json", ".svg", ".ckpt", ".samples.txt"}, inputs); !st.ok())
    return report(st);
  auto cfg = read_config(config_path);
  if (!cfg.ok()) return report(cfg.status());
  auto teacher = load_model_files(teacher_path, false);
  if (!teacher.ok()) return report(teacher.status());
  auto r = train::run_distill(*cfg, train::PretrainRun{.data = data, .out = out, .threads = threads, .resume = resume,
                                                       .max_steps = max_steps},
                              teacher->model, teacher_path);
  if (!r.ok()) return report(r.status());
  print_summary(out, *r, true);
  return kExitOk;
}

int train_pretrain(const std::string& config_path, const std::vector<std::string>& data, const std::string& tokenizer,
                   const std::string& out, int threads, bool resume, int64_t max_steps) {
  if (threads < 1 || threads > 1024) return report("--threads must be between 1 and 1024");
  std::vector<std::string> inputs = data;
  inputs.push_back(config_path);
  std::vector<std::string> outputs = {"", ".log.json", ".svg", ".ckpt"};
  if (tokenizer.empty()) outputs.push_back(".tokenizer.gguf");  // trained here
  else inputs.push_back(tokenizer);
  if (Status st = check_outputs(out, outputs, inputs); !st.ok()) return report(st);
  auto cfg = read_config(config_path);
  if (!cfg.ok()) return report(cfg.status());
  auto r = train::run_pretrain(*cfg, train::PretrainRun{.data = data, .tokenizer = tokenizer, .out = out,
                                                         .threads = threads, .resume = resume, .max_steps = max_steps});
  if (!r.ok()) return report(r.status());
  print_summary(out, *r, false);
  return kExitOk;
}

// Every recipe's options; CLI11 fills the ones of the subcommand given.
struct TrainArgs {
  int64_t vocab = 8192;  // tokenizer
  std::vector<std::string> data;
  std::string out, pre = "deepseek-v3";
  size_t max_bytes = size_t{64} << 20;
  std::string config_path, tokenizer, teacher;  // pretrain, distill
  std::vector<std::string> pt_data;
  std::string pt_out;
  int threads = 2;
  bool resume = false;
  int64_t max_steps = -1;
  train::GrpoConfig g;  // grpo
  std::string corpus_out;
  int64_t corpus_lines = 20000;
  double corpus_noise = 0.3;
};

CLI::App* add_tokenizer(CLI::App& app, TrainArgs& a) {
  CLI::App* tk = app.add_subcommand("tokenizer", "train a byte-level BPE tokenizer on text files (vocabulary-only GGUF)");
  tk->add_option("--vocab", a.vocab, "vocabulary size, special tokens included")->capture_default_str();
  tk->add_option("--data", a.data, "training text files")->required();
  tk->add_option("-o,--output", a.out, "output .gguf (vocabulary only)")->required();
  tk->add_option("--pre", a.pre, "pre-tokenizer: deepseek-v3, deepseek-llm, deepseek-coder, qwen2, llama-bpe, gpt2")->capture_default_str();
  tk->add_option("--max-bytes", a.max_bytes, "train on at most this many bytes of the data")->capture_default_str();
  return tk;
}

// The options pretrain and distill share (their help texts differ).
void add_run_options(CLI::App* sub, TrainArgs& a, const char* config_help, const char* data_help, const char* out_help) {
  sub->add_option("--config", a.config_path, config_help)->required();
  sub->add_option("--data", a.pt_data, data_help)->required();
  sub->add_option("-o,--output", a.pt_out, out_help)->required();
  sub->add_option("-t,--threads", a.threads, "threads")->capture_default_str();
  sub->add_flag("--resume", a.resume, "continue from OUT.ckpt if it exists");
  sub->add_option("--max-steps", a.max_steps, "stop after this many steps in this run (the schedule still spans all)");
}

CLI::App* add_grpo(CLI::App& app, TrainArgs& a) {
  CLI::App* gr = app.add_subcommand("grpo", "group-relative policy optimisation with verifiable rewards (task: arithmetic)");
  train::GrpoConfig& g = a.g;
  gr->add_option("--model", g.model, "starting policy (.gguf, DeepSeek architecture, with a tokenizer)");
  gr->add_option("--task", g.task, "task with a verifiable reward")->capture_default_str();
  gr->add_option("-o,--output", g.out, "final policy .gguf (also OUT.log.json, OUT.svg)");
  gr->add_option("--steps", g.steps, "policy updates")->capture_default_str();
  gr->add_option("--prompts", g.prompts, "problems per step")->capture_default_str();
  gr->add_option("--group", g.group, "completions per problem (G)")->capture_default_str();
  gr->add_option("--lr", g.lr, "learning rate (AdamW)")->capture_default_str();
  gr->add_option("--beta", g.beta, "weight of KL to the reference policy")->capture_default_str();
  gr->add_option("--temperature", g.temperature, "sampling temperature of the rollouts")->capture_default_str();
  gr->add_option("--max-new", g.max_new, "tokens per completion at most")->capture_default_str();
  gr->add_option("--max-operand", g.max_operand, "operands are drawn from [0, N)")->capture_default_str();
  gr->add_option("--curriculum", g.curriculum_steps, "steps over which training operands grow from 1-digit to --max-operand (0: none)")
      ->capture_default_str();
  gr->add_option("--held-out", g.held_out, "held-out problems for the accuracy curve")->capture_default_str();
  gr->add_option("--eval-every", g.eval_every, "steps between held-out evaluations")->capture_default_str();
  gr->add_option("--seed", g.seed, "seed")->capture_default_str();
  gr->add_option("-t,--threads", g.threads, "threads")->capture_default_str();
  gr->add_option("--write-corpus", a.corpus_out, "instead of training: write a worked-solution corpus to pretrain a base policy on");
  gr->add_option("--corpus-lines", a.corpus_lines, "problems in the corpus")->capture_default_str();
  gr->add_option("--corpus-noise", a.corpus_noise, "fraction of corpus answers made wrong")->capture_default_str();
  return gr;
}

int train_grpo(const TrainArgs& a) {
  const train::GrpoConfig& g = a.g;
  if (!a.corpus_out.empty()) {
    if (a.corpus_lines < 1 || a.corpus_lines > 100000000 || !(a.corpus_noise >= 0 && a.corpus_noise <= 1) || g.max_operand < 1)
      return report("--corpus-lines must be positive, --corpus-noise in [0, 1]");
    if (Status st = check_outputs(a.corpus_out, {""}, {}); !st.ok()) return report(st);
    const std::string corpus = train::arithmetic_corpus(a.corpus_lines, g.max_operand, a.corpus_noise, g.seed);
    if (Status st = write_file_atomically(a.corpus_out, corpus); !st.ok()) return report(st);
    std::printf("wrote %s: %lld worked %s problems (%.0f%% with a wrong answer)\n", a.corpus_out.c_str(),
                static_cast<long long>(a.corpus_lines), g.task.c_str(), 100 * a.corpus_noise);
    return kExitOk;
  }
  if (g.model.empty() || g.out.empty()) return report("grpo needs --model and -o (or --write-corpus)");
  if (g.threads < 1 || g.threads > 1024) return report("--threads must be between 1 and 1024");
  if (Status st = check_outputs(g.out, {"", ".log.json", ".svg", ".policy.tmp.gguf"}, {g.model}); !st.ok()) return report(st);
  auto r = train::run_grpo(g);
  if (!r.ok()) return report(r.status());
  std::printf("wrote %s (+ .log.json, .svg): %lld steps, held-out accuracy %.1f%% -> %.1f%% greedy, %.1f%% -> %.1f%% "
              "sampled, final mean reward %.3f\n",
              g.out.c_str(), static_cast<long long>(r->steps), 100 * r->initial_accuracy, 100 * r->final_accuracy,
              100 * r->initial_sampled_accuracy, 100 * r->final_sampled_accuracy, r->final_reward);
  return kExitOk;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  CLI::App app("Train: the DeepSeek recipe at small scale. Recipes: tokenizer, pretrain, distill, grpo, sft, dialogues.", "train");
  app.require_subcommand(1);
  TrainArgs a;
  CLI::App* tk = add_tokenizer(app, a);
  CLI::App* pt = app.add_subcommand("pretrain", "next-token + MTP pretraining of an MLA + MoE model from a config (GGUF out)");
  add_run_options(pt, a, "config JSON: {\"model\": {DeepSeek config.json keys}, \"training\": {...}}", "training text files",
                  "output model .gguf (also writes OUT.log.json, OUT.svg, OUT.ckpt)");
  pt->add_option("--tokenizer", a.tokenizer, "a GGUF vocabulary or tokenizer.json (default: train one, vocab_size of the config)");
  CLI::App* ds = app.add_subcommand("distill", "distil a teacher model into the config's student (logit KL + teacher samples)");
  ds->add_option("--teacher", a.teacher, "teacher model (.gguf with a tokenizer; the student uses its vocabulary)")->required();
  add_run_options(ds, a, "config JSON: {\"model\": ..., \"training\": ..., \"distill\": {kd_weight, ce_weight, temperature, samples, sample_tokens, sample_temperature}}",
                  "text files the teacher is distilled on", "output student .gguf (also OUT.log.json, OUT.svg, OUT.ckpt)");
  CLI::App* gr = add_grpo(app, a);
  SftArgs sft_args;
  CLI::App* sft = add_sft(app, sft_args);
  DialogueArgs dialogue_args;
  CLI::App* dialogues = add_dialogues(app, dialogue_args);
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (sft->parsed()) return train_sft(sft_args);
  if (dialogues->parsed()) return train_dialogues(dialogue_args);
  if (gr->parsed()) return train_grpo(a);
  if (ds->parsed()) return train_distill(a.teacher, a.config_path, a.pt_data, a.pt_out, a.threads, a.resume, a.max_steps);
  if (tk->parsed()) return train_tokenizer(a.vocab, a.data, a.out, a.pre, a.max_bytes);
  if (pt->parsed()) return train_pretrain(a.config_path, a.pt_data, a.tokenizer, a.pt_out, a.threads, a.resume, a.max_steps);
  return report("no recipe given (see dseek train --help)");
}

}  // namespace dseek::cli
