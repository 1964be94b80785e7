// The dseek subcommands. Each lives in its own cmd_<name>.cpp, parses its own
// arguments with CLI11 (so each has --help) and returns the process exit code:
// 0 success, 1 runtime failure, 2 bad input or usage (the message says what to do).
#pragma once

#include <string_view>

namespace dseek::cli {

int cmd_inspect(int argc, char** argv);
int cmd_init(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_detokenize(int argc, char** argv);
int cmd_template(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_kld(int argc, char** argv);
int cmd_imatrix(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_merge_lora(int argc, char** argv);

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(int argc, char** argv);
};

}  // namespace dseek::cli
