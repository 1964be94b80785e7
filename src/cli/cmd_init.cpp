// `dseek init`: write a random model of a given architecture and preset as
// GGUF, with a working tokenizer and chat template — the test and benchmark
// models of every later feature. Same seed, same bytes.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/file_identity.h"
#include "core/progress.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "tokenizer/default_vocab.h"
#include "model/random_model.h"
#include "tokenizer/vocab_import.h"

namespace dseek::cli {

int cmd_init(int argc, char** argv) {
  CLI::App app("Write a random model (weights from a seeded generator) as GGUF.", "init");
  std::string arch_name, preset = "tiny", dtype_name_arg = "f32", expert_dtype_arg, out, tokenizer, pre = "deepseek-v3";
  uint64_t seed = 42;
  int64_t vocab = 0, n_mtp = -1, n_layer = -1;
  app.add_option("--arch", arch_name, "deepseek-v3 | deepseek-v2 | deepseek-v32 | deepseek-v4 | llama | qwen2")->required();
  app.add_option("--preset", preset, "tiny | small | v2-lite (DeepSeek-V2-Lite's real shapes, ~31 GiB in bf16) | v32 (--arch deepseek-v32: DeepSeek-V3.2's real shapes, 671B parameters) | flash (--arch deepseek-v4: V4-Flash's real shapes, 284B parameters; use --layers)")
      ->capture_default_str();
  app.add_option("--dtype", dtype_name_arg, "f32 | f16 | bf16 | q8_0 | q4_0 | q4_k | q5_k | q6_k (matrices; norms stay f32)")
      ->capture_default_str();
  app.add_option("--expert-dtype", expert_dtype_arg,
                 "routed experts' type, e.g. mxfp4 as DeepSeek-V4 ships them (default: --dtype; mxfp4 for --arch deepseek-v4 --preset flash)");
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--vocab", vocab, "vocabulary size of the generated tokenizer (default: by preset)");
  app.add_option("--tokenizer", tokenizer, "copy a real tokenizer: a GGUF vocabulary or a tokenizer.json");
  app.add_option("--tokenizer-pre", pre, "pre-tokenizer name for an imported tokenizer.json")->capture_default_str();
  app.add_option("--mtp", n_mtp, "multi-token-prediction layers (deepseek-v3 presets have 1; 0 drops them, e.g. for engines that reject them)");
  app.add_option("--layers", n_layer, "number of layers (default: the preset's; e.g. v32 with 4 layers for benchmarks on a small disk)");
  app.add_option("-o,--output", out, "output .gguf file")->required();
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;

  const auto dtype = dtype_from_name(dtype_name_arg);
  if (!dtype || dtype_traits(*dtype).ggml_id < 0 || !dtype_traits(*dtype).is_float || *dtype == DType::kF64 ||
      !kernels::can_quantize(*dtype))
    return report("--dtype '" + dtype_name_arg + "' is not a weight type GGUF can store (try f32, f16, bf16, q8_0, q4_k)");

  if (!tokenizer.empty())
    if (Status st = check_output_is_not_input(out, {tokenizer}); !st.ok()) return report(st);
  GgufWriter writer;
  int64_t n_vocab = 0;
  if (!tokenizer.empty()) {
    auto n = import_vocab(tokenizer, pre, writer);
    if (!n.ok()) return report(n.status());
    n_vocab = *n;
  } else {
    n_vocab = vocab > 0 ? vocab : preset == "v2-lite" ? 102400 : preset == "v32" || preset == "flash" || preset == "v4-flash" ? 129280 : preset == "small" ? 4096 : 512;
    if (n_vocab < generated_vocab_min_size() || n_vocab > (1 << 22))
      return report("--vocab must be between " + std::to_string(generated_vocab_min_size()) + " and 4194304");
    write_vocab_metadata(generate_vocab(n_vocab), writer);
  }
  if (n_mtp > 8) return report("--mtp must be between 0 and 8");
  auto arch = architecture_preset(arch_name, preset, n_vocab, n_mtp, n_layer);
  if (!arch.ok()) return report(arch.status());

  RandomModelOptions opt{.dtype = *dtype, .seed = seed, .name = "dseek-" + arch_name + "-" + preset + "-random"};
  if (expert_dtype_arg.empty() && arch_name == "deepseek-v4" && (preset == "flash" || preset == "v4-flash"))
    expert_dtype_arg = "mxfp4";
  if (!expert_dtype_arg.empty()) {
    const auto t = dtype_from_name(expert_dtype_arg);
    if (!t || !(*t == DType::kMXFP4 || (dtype_traits(*t).ggml_id >= 0 && dtype_traits(*t).is_float &&
                                        *t != DType::kF64 && kernels::can_quantize(*t))))
      return report("--expert-dtype '" + expert_dtype_arg + "' is not a weight type init can write (mxfp4, f32, bf16, q8_0, ...)");
    opt.expert_dtype = *t;
  }
  ProgressBar bar("writing " + out, 1000);
  uint64_t total_bytes = 0;
  Status st = write_random_model(**arch, opt, writer, out, [&](uint64_t done, uint64_t total) {
    total_bytes = total;
    bar.update(total ? done * 1000 / total : 1);
  });
  if (!st.ok()) return report(st);
  int fell_back = 0;
  for (const auto& t : writer.tensors())
    fell_back += dtype_traits(t.dtype).is_float && t.dtype != *dtype && t.dtype != DType::kF32 &&
                 !(opt.expert_dtype && t.dtype == *opt.expert_dtype);
  if (fell_back > 0)
    std::fprintf(stderr, "note: %d tensors are not %s: their rows are not a whole number of %lld-element blocks (stored as q8_0 or f16)\n",
                 fell_back, dtype_name_arg.c_str(), static_cast<long long>(dtype_traits(*dtype).block_size));
  std::fprintf(stderr, "wrote %s: %s %s, %zu tensors, %.1f MiB of weights, vocab %lld\n", out.c_str(), arch_name.c_str(),
               preset.c_str(), writer.tensors().size(), static_cast<double>(total_bytes) / (1 << 20),
               static_cast<long long>(n_vocab));
  return kExitOk;
}

}  // namespace dseek::cli
