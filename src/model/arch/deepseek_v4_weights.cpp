// See deepseek_v4_weights.h.
#include "model/arch/deepseek_v4_weights.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "model/arch/deepseek_v4_names.h"
#include "model/arch_util.h"
#include "model/mxfp4_rows.h"

namespace dseek {
namespace {

constexpr std::string_view kScaleSuffix = "_scale_inv";
// Projections of a routed expert: transformers' names and the merged tensors' (the table's GGUF names).
constexpr std::string_view kProj[3] = {"gate_proj", "up_proj", "down_proj"};
constexpr std::string_view kMerged[3] = {"ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"};
constexpr int kDown = 2, kGateUp = 3;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool take(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}
bool take_number(std::string_view& s, int64_t& n) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end == s.data()) return false;
  s.remove_prefix(static_cast<size_t>(end - s.data()));
  return true;
}

// A routed expert's tensor: per expert (expert >= 0) or transformers' merged 3-D one (expert -1).
struct ExpertName {
  int64_t layer = 0, expert = -1;
  int proj = 0;  // kProj index, or kGateUp
  bool scale = false;
};

std::optional<ExpertName> parse_expert(std::string_view n) {
  ExpertName x;
  if (!take(n, "model.layers.") || !take_number(n, x.layer) || !take(n, ".mlp.experts.")) return std::nullopt;
  if (n == "gate_up_proj" || n == "gate_up_proj.weight") return x.proj = kGateUp, x;
  if (n == "down_proj" || n == "down_proj.weight") return x.proj = kDown, x;
  if (!take_number(n, x.expert) || !take(n, ".")) return std::nullopt;
  for (int p = 0; p < 3; ++p)
    if (take(n, kProj[p])) {
      x.proj = p;
      if (n == ".weight") return x;
      if (n == std::string(".weight") + std::string(kScaleSuffix)) return x.scale = true, x;
    }
  return std::nullopt;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// What the translated WeightSource owns besides the input's mapped files.
struct Owned {
  WeightSource input;
  std::deque<std::vector<std::byte>> buffers;
  std::span<const std::byte> keep(std::vector<std::byte> b) {
    buffers.push_back(std::move(b));
    return buffers.back();
  }
};

class Translator {
 public:
  Translator(const WeightSource& in, int64_t n_layer, int64_t n_expert, std::string where)
      : owned_(std::make_shared<Owned>(Owned{in, {}})), n_layer_(n_layer), n_expert_(n_expert), where_(std::move(where)) {}

  Result<WeightSource> run(const std::vector<TensorSpec>& specs) {
    for (const WeightView& v : owned_->input.tensors()) native_ = native_ || is_deepseek_v4_native_name(v.name);
    for (const WeightView& v : owned_->input.tensors()) {
      WeightView t = v;
      if (native_) t.name = deepseek_v4_transformers_name(v.name, n_layer_);
      if (t.name.empty()) return error("tensor '" + v.name + "' is not a DeepSeek-V4 tensor name dseek knows");
      origin_[t.name] = v.name;
      if (Status st = add(std::move(t)); !st.ok()) return st;
    }
    for (const auto& [key, parts] : experts_)
      if (Status st = merge(key.first, key.second, parts); !st.ok()) return st;
    for (const auto& [layer, v] : gate_up_)
      if (Status st = split_gate_up(layer, v); !st.ok()) return st;
    if (Status st = check_complete(specs); !st.ok()) return st;
    return WeightSource::from_views(std::move(out_), owned_);
  }

 private:
  struct Parts {
    std::map<int64_t, WeightView> weight, scale;
  };

  Status error(const std::string& msg) const { return Status::error(where_ + ": " + msg); }
  // The tensor's name in the file, for messages.
  std::string file_name(const std::string& name) const {
    auto it = origin_.find(name);
    return "'" + (it == origin_.end() ? name : it->second) + "'";
  }
  static std::string merged_name(int64_t layer, int proj) {
    return "blk." + std::to_string(layer) + "." + std::string(kMerged[proj]);
  }

  Status add(WeightView t) {
    if (auto x = parse_expert(t.name)) {
      if (x->expert < 0) {
        if (x->proj == kGateUp) return gate_up_.emplace(x->layer, std::move(t)), ok_status();
        t.name = merged_name(x->layer, kDown);  // [X][E][Fe]: already the merged layout
        out_.push_back(std::move(t));
        return ok_status();
      }
      Parts& p = experts_[{x->layer, x->proj}];
      (x->scale ? p.scale : p.weight).emplace(x->expert, std::move(t));
      return ok_status();
    }
    if (ends_with(t.name, kScaleSuffix)) {
      auto s = f32_scale(t);
      if (!s.ok()) return s.status();
      out_.push_back(std::move(s).value());
      return ok_status();
    }
    if (ends_with(t.name, "tid2eid") && (t.dtype == DType::kI64 || t.dtype == DType::kI32)) return add_ids(std::move(t));
    out_.push_back(std::move(t));
    return ok_status();
  }

  // An FP8 block-scale tensor as F32: E8M0 bytes (2^(e-127)) converted, F32 kept in place.
  Result<WeightView> f32_scale(const WeightView& s) {
    if (s.dtype == DType::kF32) return s;
    if (s.dtype != DType::kU8)
      return error("scale tensor " + file_name(s.name) + " has type " + std::string(dtype_name(s.dtype)) +
                   "; F8_E8M0 or F32 block scales expected");
    std::vector<std::byte> b(s.data.size() * sizeof(float));
    for (size_t i = 0; i < s.data.size(); ++i) {
      const auto e = static_cast<uint8_t>(s.data[i]);
      if (e == 0xFF) return error("scale tensor " + file_name(s.name) + " holds a NaN (E8M0 byte 0xFF) at " + std::to_string(i));
      const float f = std::ldexp(1.0f, static_cast<int>(e) - 127);
      std::memcpy(b.data() + i * sizeof(float), &f, sizeof f);
    }
    return WeightView{s.name, DType::kF32, s.shape, owned_->keep(std::move(b))};
  }

  // Hash routing's token -> experts table (I64 in the released files) as floats, as the binder reads it.
  Status add_ids(WeightView t) {
    const int64_t n = t.n_elements();
    std::vector<std::byte> b(static_cast<size_t>(n) * sizeof(float));
    for (int64_t i = 0; i < n; ++i) {
      int64_t id = 0;
      if (t.dtype == DType::kI64) std::memcpy(&id, t.data.data() + i * 8, 8);
      else { int32_t v; std::memcpy(&v, t.data.data() + i * 4, 4); id = v; }
      const float f = static_cast<float>(id);
      std::memcpy(b.data() + i * static_cast<int64_t>(sizeof(float)), &f, sizeof f);
    }
    out_.push_back({t.name, DType::kF32, t.shape, owned_->keep(std::move(b))});
    return ok_status();
  }

  // Every tensor of the architecture is there; the first missing one named as the file would name it.
  Status check_complete(const std::vector<TensorSpec>& specs) const {
    std::set<std::string_view> have;
    for (const WeightView& v : out_) have.insert(v.name);
    for (const TensorSpec& s : specs) {
      if (have.count(s.gguf_name) || (!s.hf_name.empty() && have.count(s.hf_name))) continue;
      std::string name = s.hf_name;
      if (s.source == SlotSource::kMergedExperts) {
        const int proj = s.gguf_name.find("_up_") != std::string::npos ? 1 : s.gguf_name.find("_down_") != std::string::npos ? 2 : 0;
        name = expert_file_name(layer_index(s.gguf_name), 0, proj);
      } else if (native_) {
        name = deepseek_v4_native_name(s.hf_name, n_layer_);
      }
      return error("missing tensor '" + (name.empty() ? s.gguf_name : name) + "'");
    }
    return ok_status();
  }

  Status merge(int64_t layer, int proj, const Parts& p);
  Status merge_fp4(int64_t layer, int proj, const Parts& p);
  Status split_gate_up(int64_t layer, const WeightView& v);

  // The file's name of expert e's weight (for "missing" messages).
  std::string expert_file_name(int64_t layer, int64_t e, int proj) const {
    if (!native_) return "model.layers." + std::to_string(layer) + ".mlp.experts." + std::to_string(e) + "." +
                         std::string(kProj[proj]) + ".weight";
    const std::string block = layer < n_layer_ ? "layers." + std::to_string(layer) : "mtp." + std::to_string(layer - n_layer_);
    return block + ".ffn.experts." + std::to_string(e) + (proj == 0 ? ".w1" : proj == 1 ? ".w3" : ".w2") + ".weight";
  }

  std::shared_ptr<Owned> owned_;
  int64_t n_layer_, n_expert_;
  bool native_ = false;
  std::string where_;
  std::vector<WeightView> out_;
  std::map<std::string, std::string> origin_;  // translated name -> the file's name
  std::map<std::pair<int64_t, int>, Parts> experts_;
  std::map<int64_t, WeightView> gate_up_;
};

// One layer's experts of one projection, concatenated (FP8 with their scales; FP4 via merge_fp4).
Status Translator::merge(int64_t layer, int proj, const Parts& p) {
  const int64_t X = n_expert_;
  for (int64_t e = 0; e < X; ++e)
    if (!p.weight.count(e)) return error("missing tensor '" + expert_file_name(layer, e, proj) + "'");
  if (static_cast<int64_t>(p.weight.size()) != X)
    return error("layer " + std::to_string(layer) + " has " + std::to_string(p.weight.size()) + " routed experts (" +
                 std::string(kProj[proj]) + "); the config says " + std::to_string(X));
  const WeightView& w0 = p.weight.begin()->second;
  if (w0.dtype == DType::kI8) return merge_fp4(layer, proj, p);
  const auto& tr = dtype_traits(w0.dtype);
  if (!tr.is_float || tr.block_size != 1 || w0.shape.size() != 2)
    return error("expert tensor " + file_name(w0.name) + " has type " + std::string(tr.name) + " and shape " +
                 shape_str(w0.shape) + "; a 2-D float, FP8 or packed-FP4 (I8) matrix expected");
  const bool fp8 = w0.dtype == DType::kF8E4M3;
  const int64_t rows = w0.shape[0], cols = w0.shape[1];
  if (fp8 && X > 1 && rows % 128 != 0)
    return error("FP8 experts of layer " + std::to_string(layer) + " have " + std::to_string(rows) +
                 " rows, not a multiple of the 128-row scale blocks: they cannot be merged");
  std::vector<std::byte> bytes, scales;
  for (const auto& [e, w] : p.weight) {
    if (w.dtype != w0.dtype || w.shape != w0.shape)
      return error("expert tensor " + file_name(w.name) + " differs in type or shape from " + file_name(w0.name));
    bytes.insert(bytes.end(), w.data.begin(), w.data.end());
    if (!fp8) continue;
    auto it = p.scale.find(e);
    if (it == p.scale.end()) return error("FP8 expert tensor " + file_name(w.name) + " has no scale tensor");
    auto s = f32_scale(it->second);
    if (!s.ok()) return s.status();
    const int64_t want = ((rows + 127) / 128) * ((cols + 127) / 128);
    if (s->n_elements() != want)
      return error("scale tensor " + file_name(it->second.name) + " has shape " + shape_str(it->second.shape) + ", not " +
                   std::to_string(want) + " block scales");
    scales.insert(scales.end(), s->data.begin(), s->data.end());
  }
  const std::string name = merged_name(layer, proj);
  out_.push_back({name, w0.dtype, {X, rows, cols}, owned_->keep(std::move(bytes))});
  if (fp8) out_.push_back({name + std::string(kScaleSuffix), DType::kF32, {X * ((rows + 127) / 128), (cols + 127) / 128},
                           owned_->keep(std::move(scales))});
  return ok_status();
}

// DeepSeek's FP4 experts: I8 [rows, cols/2] packed E2M1 + E8M0 scales [rows, cols/32] -> MXFP4 [X][rows][cols].
Status Translator::merge_fp4(int64_t layer, int proj, const Parts& p) {
  const WeightView& w0 = p.weight.begin()->second;
  if (w0.shape.size() != 2 || (w0.shape[1] * 2) % kQKMxfp4 != 0)
    return error("FP4 expert tensor " + file_name(w0.name) + " has shape " + shape_str(w0.shape) +
                 "; [rows, cols/2] with cols a multiple of 32 expected");
  const int64_t X = static_cast<int64_t>(p.weight.size()), rows = w0.shape[0], cols = w0.shape[1] * 2;
  const int64_t nb = cols / kQKMxfp4;
  std::vector<std::byte> out(static_cast<size_t>(X * rows * nb) * sizeof(BlockMxfp4));
  auto* blocks = reinterpret_cast<BlockMxfp4*>(out.data());
  for (const auto& [e, w] : p.weight) {
    if (w.dtype != DType::kI8 || w.shape != w0.shape)
      return error("expert tensor " + file_name(w.name) + " differs in type or shape from " + file_name(w0.name));
    auto it = p.scale.find(e);
    if (it == p.scale.end()) return error("FP4 expert tensor " + file_name(w.name) + " has no scale tensor");
    const WeightView& s = it->second;
    if (s.dtype != DType::kU8 || s.shape != std::vector<int64_t>{rows, nb})
      return error("scale tensor " + file_name(s.name) + " has type " + std::string(dtype_name(s.dtype)) + " and shape " +
                   shape_str(s.shape) + "; F8_E8M0 [" + std::to_string(rows) + ", " + std::to_string(nb) + "] expected");
    const auto* packed = reinterpret_cast<const uint8_t*>(w.data.data());
    const auto* sc = reinterpret_cast<const uint8_t*>(s.data.data());
    for (int64_t i = 0; i < rows * nb; ++i)
      if (sc[i] == 0xFF) return error("scale tensor " + file_name(s.name) + " holds a NaN (E8M0 byte 0xFF) at " + std::to_string(i));
    for (int64_t r = 0; r < rows; ++r)
      mxfp4_row_from_deepseek(packed + r * cols / 2, sc + r * nb, cols, blocks + (e * rows + r) * nb);
  }
  out_.push_back({merged_name(layer, proj), DType::kMXFP4, {X, rows, cols}, owned_->keep(std::move(out))});
  return ok_status();
}

// transformers' merged experts.gate_up_proj [X][2 Fe][E] (each expert's gate rows, then its up rows).
Status Translator::split_gate_up(int64_t layer, const WeightView& v) {
  const auto& tr = dtype_traits(v.dtype);
  if (!tr.is_float || tr.block_size != 1 || v.dtype == DType::kF8E4M3 || v.shape.size() != 3 || v.shape[1] % 2 != 0)
    return error("tensor " + file_name(v.name) + " has type " + std::string(tr.name) + " and shape " + shape_str(v.shape) +
                 "; a float [experts, 2 x ff, hidden] tensor expected (FP8 merged experts are not supported)");
  const int64_t X = v.shape[0], F = v.shape[1] / 2, E = v.shape[2];
  const size_t half = static_cast<size_t>(F * E * tr.type_size);
  for (int part = 0; part < 2; ++part) {
    std::vector<std::byte> b;
    b.reserve(half * static_cast<size_t>(X));
    for (int64_t e = 0; e < X; ++e) {
      const std::byte* src = v.data.data() + (2 * e + part) * static_cast<int64_t>(half);
      b.insert(b.end(), src, src + half);
    }
    out_.push_back({merged_name(layer, part), v.dtype, {X, F, E}, owned_->keep(std::move(b))});
  }
  return ok_status();
}

}  // namespace

Result<WeightSource> deepseek_v4_hf_weights(const WeightSource& in, int64_t n_layer, int64_t n_expert,
                                           const std::vector<TensorSpec>& specs, const std::string& where) {
  return Translator(in, n_layer, n_expert, where).run(specs);
}

}  // namespace dseek
