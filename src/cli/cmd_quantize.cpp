// `dseek quantize IN OUT --type T [--type-map 'REGEX=TYPE,...']`: write a GGUF
// copy of a model (GGUF or a Hugging Face directory, FP8 included) with its
// matrices in type T, or per tensor as the type map says; --imatrix FILE
// weights the iq4 / q2_K / q3_K writers' error by an importance matrix (llama.cpp's format). A GGUF
// that is not a model dseek knows (a quant zoo, an unknown architecture) is
// rewritten tensor by tensor instead: every float tensor in T (f32 where its
// rows are not whole blocks of T), names, shapes and metadata kept.
#include <cstdio>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/tools/imatrix_file.h"
#include "core/file_identity.h"
#include "core/progress.h"
#include "core/quant/type_map.h"
#include "format/gguf_retype.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/convert.h"

namespace dseek::cli {
namespace {

constexpr const char* kTypes = "q8_0, q4_k, q5_k, q6_k, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, iq4_nl, iq4_xs, bf16, f16, f32";

// A type `quantize` can store a weight in.
bool writable_weight_type(DType t) {
  return dtype_traits(t).ggml_id >= 0 && dtype_traits(t).is_float && t != DType::kF64 && kernels::can_quantize(t);
}

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

// A model known to dseek, converted with `opt`.
int convert_model(const ModelFiles& files, const ConvertOptions& opt, const std::string& out) {
  ProgressBar bar("quantizing to " + std::string(dtype_name(opt.type)), 1000);
  Status st = convert_to_gguf(files, opt, out, [&](uint64_t done, uint64_t total) { bar.update(total ? done * 1000 / total : 1000); });
  if (!st.ok()) return report(st);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return kExitOk;
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  CLI::App app("Convert a model (GGUF or Hugging Face directory), or the tensors of any GGUF file, to GGUF with the given weight type.", "quantize");
  std::string in, out, type = "q8_0", pre, type_map, imatrix;
  app.add_option("input", in, "GGUF file or Hugging Face model directory")->required();
  app.add_option("output", out, "output .gguf file")->required();
  app.add_option("--type", type, std::string(kTypes).insert(0, "one of: "))->capture_default_str();
  app.add_option("--type-map", type_map,
                 "per-tensor types, 'REGEX=TYPE,REGEX=TYPE' (e.g. 'ffn_.*_exps=q2_k,attn.*=q8_0'): the first regex "
                 "found in a tensor's GGUF name gives its type, --type the rest (models only)");
  app.add_option("--imatrix", imatrix,
                 "importance matrix (dseek imatrix or llama.cpp's llama-imatrix output, GGUF or .dat): iq4_nl / "
                 "iq4_xs / q2_k / q3_k tensors minimise the importance-weighted error (models only)");
  app.add_option("--tokenizer-pre", pre, "pre-tokenizer name when importing a tokenizer.json (default: by architecture)");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  const auto t = dtype_from_name(type);
  if (!t || !writable_weight_type(*t))
    return report("--type '" + type + "' is not a weight type dseek can write to GGUF (" + kTypes + ")");
  std::optional<TensorTypeMap> map;
  if (!type_map.empty()) {
    auto parsed = TensorTypeMap::parse(type_map, writable_weight_type);
    if (!parsed.ok()) return report(parsed.status());
    map = std::move(*parsed);
  }
  std::optional<ImportanceMatrix> importance;
  if (!imatrix.empty()) {
    auto loaded = ImportanceMatrix::load(imatrix);
    if (!loaded.ok()) return report(loaded.status());
    importance = std::move(*loaded);
  }
  if (Status st = check_output_is_not_input(out, {in}); !st.ok()) return report(st);
  auto files = open_model_files(in);
  const bool is_model = files.ok() && (files->arch || !files->gguf);
  if (!is_model && (map || importance))
    return report(std::string(map ? "--type-map" : "--imatrix") + " needs a model dseek knows; " + in + ": " +
                  (files.ok() ? files->arch_error : files.message()));
  if (!files.ok()) return retype_any_gguf(in, out, *t, files.message());
  if (!files->arch && files->gguf) return retype_any_gguf(in, out, *t, files->arch_error);
  ConvertOptions opt{.type = *t, .tokenizer_pre = pre};
  if (map) opt.type_of = [&map, t](const std::string& name) { return map->type_of(name, *t); };
  if (importance)
    opt.importance = [&importance](const std::string& name, const std::vector<int64_t>& ne, int64_t row) {
      return importance->row_weights(name, ne, row);
    };
  return convert_model(*files, opt, out);
}

}  // namespace dseek::cli
