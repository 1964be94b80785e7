// `dseek quantize IN OUT --type T`: write a GGUF copy of a model (GGUF or a
// Hugging Face directory, FP8 included) with its matrices in type T. A GGUF
// that is not a model dseek knows (a quant zoo, an unknown architecture) is
// rewritten tensor by tensor instead: every float tensor in T (f32 where its
// rows are not whole blocks of T), names, shapes and metadata kept.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/file_identity.h"
#include "core/progress.h"
#include "format/gguf_retype.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/convert.h"

namespace dseek::cli {
namespace {

constexpr const char* kTypes = "q8_0, q4_k, q5_k, q6_k, q4_0, bf16, f16, f32";

// A file naming an architecture dseek runs that fails to open is a broken model, reported, never retyped.
bool names_a_known_architecture(const GgufFile& g) {
  const auto arch = g.get_string("general.architecture");
  return arch && is_known_gguf_architecture(*arch);
}

// A GGUF input without an architecture dseek can run: retype its tensors.
int retype_any_gguf(const std::string& in, const std::string& out, DType type, const std::string& why) {
  auto g = GgufFile::open(in);
  if (!g.ok() || names_a_known_architecture(*g)) return report(why);
  std::fprintf(stderr, "dseek: %s is not a model dseek knows (%s): converting each tensor\n", in.c_str(), why.c_str());
  ProgressBar bar("converting to " + std::string(dtype_name(type)), 1000);
  Status st = retype_gguf(*g, type, out, [&](uint64_t done, uint64_t total) {
    bar.update(total ? done * 1000 / total : 1000);
  });
  if (!st.ok()) return report(st);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return kExitOk;
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  CLI::App app("Convert a model (GGUF or Hugging Face directory), or the tensors of any GGUF file, to GGUF with the given weight type.", "quantize");
  std::string in, out, type = "q8_0", pre;
  app.add_option("input", in, "GGUF file or Hugging Face model directory")->required();
  app.add_option("output", out, "output .gguf file")->required();
  app.add_option("--type", type, std::string(kTypes).insert(0, "one of: "))->capture_default_str();
  app.add_option("--tokenizer-pre", pre, "pre-tokenizer name when importing a tokenizer.json (default: by architecture)");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  const auto t = dtype_from_name(type);
  if (!t || dtype_traits(*t).ggml_id < 0 || !dtype_traits(*t).is_float || *t == DType::kF64 || !kernels::can_quantize(*t))
    return report("--type '" + type + "' is not a weight type dseek can write to GGUF (" + kTypes + ")");
  if (Status st = check_output_is_not_input(out, {in}); !st.ok()) return report(st);
  auto files = open_model_files(in);
  if (!files.ok()) return retype_any_gguf(in, out, *t, files.message());
  if (!files->arch && files->gguf) return retype_any_gguf(in, out, *t, files->arch_error);
  ProgressBar bar("quantizing to " + type, 1000);
  Status st = convert_to_gguf(*files, {.type = *t, .tokenizer_pre = pre}, out,
                              [&](uint64_t done, uint64_t total) { bar.update(total ? done * 1000 / total : 1000); });
  if (!st.ok()) return report(st);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return kExitOk;
}

}  // namespace dseek::cli
