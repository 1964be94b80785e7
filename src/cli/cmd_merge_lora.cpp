// `dseek merge-lora BASE ADAPTER[:SCALE]... -o OUT`: bakes LoRA adapters into
// a model GGUF (model/lora_adapter.h, merge_lora_gguf).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/lora_adapter.h"

namespace dseek::cli {

int cmd_merge_lora(int argc, char** argv) {
  CLI::App app("Merge LoRA adapters (GGUF, llama.cpp convention) into a base model GGUF.", "merge-lora");
  std::string base, out;
  std::vector<std::string> adapters;
  app.add_option("base", base, "base model .gguf")->required();
  app.add_option("adapters", adapters, "adapter .gguf files, each FILE or FILE:SCALE")->required();
  app.add_option("-o,--output", out, "merged model .gguf (adapted tensors are stored as F32)")->required();
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (Status st = merge_lora_gguf(base, adapters, out); !st.ok()) return report(st);
  std::printf("wrote %s: %s with %zu adapter(s) merged\n", out.c_str(), base.c_str(), adapters.size());
  return kExitOk;
}

}  // namespace dseek::cli
