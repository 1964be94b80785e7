// The architecture interface: what one model family declares about itself —
// hyper-parameters (parsed from GGUF keys or HF config.json, never sniffed
// from shapes), its tensor table (our GGUF name, HF name, shape), presets for
// `dseek init`, and parameter accounting. The forward pass is added per arch
// in the same file (issue 4); runtime, server and CLI see only this interface.
//
// Dimension glossary (used in shape comments throughout model/):
//   V n_vocab   E n_embd   L n_layer   H n_head   Hkv n_head_kv   F n_ff (dense)
//   Fe n_ff_exp (per expert)   X n_expert (routed)   Xs n_expert_shared   K n_expert_used
//   Cq q_lora_rank   Ckv kv_lora_rank   Dn d_head_nope   Dr d_head_rope   Dv d_head_v
//   T tokens in a batch   S cached positions
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"

namespace dseek {

class Model;
struct ModelFiles;

// How `dseek init` fills a tensor with random values.
// kExpertIds: a frozen token -> experts table (DeepSeek-V4's tid2eid): each row
// n distinct expert ids (stored as values) below the slot's fan_in.
enum class TensorInit { kMatrix, kOutputHead, kNormWeight, kZero, kEmbedding, kRouter, kBias, kExpertIds };

// How a file may hold a tensor in a form other than its own name.
enum class SlotSource {
  kSelf,            // stored under its own GGUF or HF name
  kMergedExperts,   // GGUF [X][rows][cols]; HF one tensor per expert (hf_parts)
  kKeyOfJoint,      // MLA W_UK^T per head [H][Ckv][Dn], from the joint kv_b [H*(Dn+Dv)][Ckv] (joint_*)
  kValueOfJoint,    // MLA W_UV per head [H][Dv][Ckv], from the joint kv_b
  kAlternative,     // never written by us: a layout the loader also accepts (the joint kv_b)
};

struct TensorSpec {
  std::string gguf_name;     // llama.cpp's name, with "blk.N." in layers
  std::string hf_name;       // Hugging Face's name; "" if HF stores it otherwise (merged, split)
  std::vector<int64_t> ne;   // GGUF order: ne[0] innermost
  TensorInit init = TensorInit::kMatrix;
  int64_t fan_in = 1;        // for the init scale
  bool quantizable = true;   // false for norms, biases, router (kept f32)
  SlotSource source = SlotSource::kSelf;
  std::vector<std::string> hf_parts;    // kMergedExperts: the HF tensor of each expert, in order
  std::string joint_gguf, joint_hf;     // k*OfJoint: the joint tensor's names
};

struct ParamCounts {
  int64_t total = 0;   // every weight, MTP included
  int64_t mtp = 0;     // of which in multi-token-prediction layers
  int64_t active = 0;  // used per token by the main model: routed experts at K/X; MTP and the input embedding (a lookup) excluded
};

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual std::string_view name() const = 0;       // "deepseek-v3", "deepseek-v2", "llama", "qwen2"
  virtual std::string_view gguf_arch() const = 0;  // general.architecture value
  // Human-readable hyper-parameters in a stable order, for `inspect`.
  virtual std::vector<std::pair<std::string, std::string>> describe() const = 0;
  // Every tensor the model has, in file order.
  virtual std::vector<TensorSpec> tensor_specs() const = 0;
  virtual void write_gguf_metadata(GgufWriter& w) const = 0;
  // Fraction of a tensor's parameters used per token (1, or K/X for routed experts).
  virtual double active_fraction(std::string_view tensor_name) const = 0;
  virtual bool is_mtp_tensor(std::string_view tensor_name) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t context_length() const = 0;
  // Binds the weights in `files` (kept alive by the model) into a runnable model.
  virtual Result<std::unique_ptr<Model>> create_model(std::shared_ptr<const ModelFiles> files) const = 0;
};

// Registry (model/registry.cpp): the explicit list of architectures.
Result<std::unique_ptr<Architecture>> architecture_from_gguf(const GgufFile& f);
Result<std::unique_ptr<Architecture>> architecture_from_hf_config(const nlohmann::json& config);
// `arch` as on the `dseek init` command line; preset: tiny | small | v2-lite | v32.
// n_mtp >= 0 overrides the preset's number of multi-token-prediction layers;
// n_layer > 0 its number of layers (real shapes, fewer layers: benchmarks of
// big models on small disks).
Result<std::unique_ptr<Architecture>> architecture_preset(std::string_view arch, std::string_view preset,
                                                           int64_t vocab_size, int64_t n_mtp = -1,
                                                           int64_t n_layer = -1);
std::vector<std::string_view> architecture_names();
// Whether `general.architecture` names one that architecture_from_gguf builds
// (a file naming one that fails to load is a broken model, not some other GGUF).
bool is_known_gguf_architecture(std::string_view name);

// Per-family factories (one arch file each).
Result<std::unique_ptr<Architecture>> deepseek_from_gguf(const GgufFile& f);
Result<std::unique_ptr<Architecture>> deepseek_from_hf_config(const nlohmann::json& c);
Result<std::unique_ptr<Architecture>> deepseek_preset(std::string_view arch, std::string_view preset, int64_t n_vocab,
                                                       int64_t n_mtp, int64_t n_layer);
Result<std::unique_ptr<Architecture>> deepseek_v4_from_gguf(const GgufFile& f);
Result<std::unique_ptr<Architecture>> deepseek_v4_from_hf_config(const nlohmann::json& c);
Result<std::unique_ptr<Architecture>> deepseek_v4_preset(std::string_view preset, int64_t n_vocab, int64_t n_mtp,
                                                          int64_t n_layer);
Result<std::unique_ptr<Architecture>> llama_from_gguf(const GgufFile& f, bool qkv_bias);
Result<std::unique_ptr<Architecture>> llama_from_hf_config(const nlohmann::json& c, bool qkv_bias);
Result<std::unique_ptr<Architecture>> llama_preset(std::string_view preset, int64_t n_vocab, bool qkv_bias,
                                                    int64_t n_layer);

// Sums parameters over actual tensors (name, element count) using `arch`'s accounting.
ParamCounts count_params(const Architecture& arch, const std::vector<std::pair<std::string, int64_t>>& tensors);

}  // namespace dseek
