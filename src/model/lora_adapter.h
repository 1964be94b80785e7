// LoRA adapters as GGUF files in llama.cpp's convention: general.type =
// "adapter", adapter.type = "lora", adapter.lora.alpha (f32), and for each
// adapted base tensor W [rows x cols] (GGUF ne [cols, rows]) a pair
// "<W's name>.lora_a" with ne [cols, r] and "<W's name>.lora_b" with ne
// [r, rows]: row-major A [r x cols], B [rows x r], W' = W + scale * alpha/r * B A
// (alpha 0 means alpha = r, as llama.cpp reads it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <map>
#include <memory>

#include "core/status.h"
#include "format/weight_source.h"

namespace dseek {

struct LoraPairData {
  std::string base;       // the base tensor's GGUF name
  int64_t rows = 0, cols = 0, rank = 0;
  std::vector<float> a;   // [rank x cols]
  std::vector<float> b;   // [rows x rank]
};

struct LoraAdapterFile {
  std::string architecture;  // general.architecture of the base model ("deepseek2", "llama")
  float alpha = 0;
  std::vector<LoraPairData> pairs;
  double factor(const LoraPairData& p, double user_scale) const {
    return user_scale * (alpha > 0 ? alpha / static_cast<double>(p.rank) : 1.0);
  }
};

Status write_lora_adapter(const LoraAdapterFile& f, const std::string& path);
// Reads and checks the adapter's own consistency (keys, pairs complete, ranks agree); any float dtype.
Result<LoraAdapterFile> read_lora_adapter(const std::string& path);

// Whether dseek can apply an adapter to this base tensor without merging: the
// 2-D projections that go through model/blocks/linear whole (not the
// embedding, the router, merged routed experts or MLA's per-head kv_b).
bool lora_target_supported(const std::string& base_name);

// Every pair names a supported 2-D tensor of `base` whose shape is [rows x cols].
Status check_adapter_against(const LoraAdapterFile& f, const WeightSource& base, const std::string& adapter_path);

// "FILE" or "FILE:SCALE" (the last ':' followed by a number splits).
struct LoraArg {
  std::string path;
  double scale = 1.0;
};
Result<LoraArg> parse_lora_arg(const std::string& arg);

// What one base matrix gets at run time: y += sum over adapters of factor * B (A x).
struct LoraDelta {
  struct Term {
    const LoraPairData* pair;
    float factor;  // user scale * alpha / r
  };
  std::vector<Term> terms;
};

// y[n_tok x rows] += the delta applied to x[n_tok x cols] (f32, a fixed summation order).
void apply_lora(const LoraDelta& d, const float* x, int64_t n_tok, float* y);

// The adapters given with --lora, checked against the base model, indexed by base tensor name.
class LoraAdapters {
 public:
  // base_arch: the base GGUF's general.architecture ("" to skip that check).
  static Result<std::shared_ptr<const LoraAdapters>> load(const std::vector<std::string>& args, const WeightSource& base,
                                                         const std::string& base_arch);
  const LoraDelta* find(const std::string& base_name) const;
  const std::map<std::string, LoraDelta>& deltas() const { return deltas_; }

 private:
  std::vector<std::unique_ptr<LoraAdapterFile>> files_;  // stable addresses for the terms
  std::map<std::string, LoraDelta> deltas_;
};

// `dseek merge-lora`: BASE (GGUF) with every adapter's delta added, written
// to OUT; adapted tensors become F32, everything else is copied as stored.
Status merge_lora_gguf(const std::string& base, const std::vector<std::string>& loras, const std::string& out);

}  // namespace dseek
