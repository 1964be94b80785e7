// dseek entry point: dispatches `dseek <command> ...` to one cmd_*.cpp.
// Knows nothing but the command table; all work happens in the commands.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"
#include "cli/common.h"
#include "dist/expert_parallel.h"

namespace {

using dseek::cli::Command;

constexpr Command kCommands[] = {
    {"inspect", "describe a GGUF file or Hugging Face model directory", dseek::cli::cmd_inspect},
    {"init", "write a random model (tiny/small/v2-lite presets) as GGUF", dseek::cli::cmd_init},
    {"tokenize", "text (stdin) -> token ids or pieces", dseek::cli::cmd_tokenize},
    {"detokenize", "token ids (stdin) -> text", dseek::cli::cmd_detokenize},
    {"template", "render a chat template for messages (JSON on stdin)", dseek::cli::cmd_template},
    {"run", "generate text from a prompt (streams to stdout)", dseek::cli::cmd_run},
    {"train", "the DeepSeek training recipe at small scale (tokenizer)", dseek::cli::cmd_train},
    {"merge-lora", "bake LoRA adapters into a model GGUF", dseek::cli::cmd_merge_lora},
    {"kld", "KL divergence / top-1 agreement / perplexity of a quantised model against its base", dseek::cli::cmd_kld},
    {"serve", "serve a model over an OpenAI-compatible HTTP API with a chat page", dseek::cli::cmd_serve},
    {"imatrix", "importance matrix of a model over a text (for quantize --imatrix)", dseek::cli::cmd_imatrix},
    {"quantize", "convert a GGUF or Hugging Face model to GGUF with a given weight type", dseek::cli::cmd_quantize},
    {"bench", "measure prompt/generation speed and memory bandwidth", dseek::cli::cmd_bench},
    {"logits", "write the logits of a token sequence (float32 [n_tokens x n_vocab])", dseek::cli::cmd_logits},
};

void print_usage(FILE* out) {
  std::fprintf(out,
               "dseek: run, serve and train DeepSeek-family models on your own hardware.\n\n"
               "Usage: dseek <command> [options]   (dseek <command> --help for details)\n\n"
               "Commands:\n");
  for (const auto& c : kCommands)
    std::fprintf(out, "  %-12.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
}

}  // namespace

int main(int argc, char** argv) {
  // Forward passes allocate and free the same large activation buffers layer
  // after layer. glibc would hand each one (> 128 KiB) back to the kernel and
  // page-fault it in again, zeroed, on the next layer; keeping them in the
  // heap removes that (measured on v2-lite prefill). Process-wide allocator
  // tuning, set once before any thread starts.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  if (argc < 2) {
    print_usage(stderr);
    return dseek::cli::kExitBadInput;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (c.name != name) continue;
    // --ep: this process is one rank of an MPI job; rank 0 runs the command, the others serve experts.
    if (dseek::dist::wants_expert_parallel(argc, argv))
      return dseek::dist::run_expert_parallel(argc, argv, [&] { return c.run(argc - 1, argv + 1); });
    return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "dseek: unknown command '%s'. Run 'dseek --help' for the list.\n", argv[1]);
  return dseek::cli::kExitBadInput;
}
