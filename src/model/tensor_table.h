// An architecture's tensors as data: one TensorSlot per tensor kind, in GGUF
// file order, with its GGUF and Hugging Face names, its GGUF dims as functions
// of the hyper-parameters, where it occurs (once, or in each layer where a
// condition holds), how `dseek init` fills it and whether it may be quantised.
// The same table gives tensor_specs() (what init, convert and export write),
// the names and matrix shapes the forward pass binds, and the trainer's
// parameter shapes.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/arch_util.h"
#include "model/weight_binder.h"

namespace dseek {

template <class H>
using HDim = int64_t (*)(const H&);

enum class SlotScope { kGlobal, kLayer };

template <class H>
struct TensorSlot {
  std::string_view gguf;           // after "blk.N." for layer slots
  std::string_view hf;             // after "model.layers.N." for layer slots; "" if HF has none
  SlotScope scope = SlotScope::kLayer;
  std::array<HDim<H>, 3> ne{};     // GGUF dims, ne[0] innermost (null: absent)
  TensorInit init = TensorInit::kMatrix;
  bool quantizable = true;
  bool (*when)(const H&, int64_t layer) = nullptr;  // null: always
  SlotSource source = SlotSource::kSelf;
  HDim<H> fan_in = nullptr;        // null: ne[0] for matrices, 1 for vectors
};

// A table plus the layer count, answering per-slot questions. `Id` is the
// architecture's enum of slots (its values index the table).
template <class H, class Id>
class TensorTable {
 public:
  explicit constexpr TensorTable(std::span<const TensorSlot<H>> slots) : slots_(slots) {}

  const TensorSlot<H>& slot(Id id) const { return slots_[static_cast<size_t>(id)]; }
  static std::string layer_prefix(int64_t layer) { return std::string(kGgufLayerPrefix) + std::to_string(layer) + "."; }
  static std::string hf_layer_prefix(int64_t layer) { return std::string(kHfLayerPrefix) + std::to_string(layer) + "."; }

  std::string gguf_name(Id id, int64_t layer = -1) const { return name(slot(id).gguf, slot(id).scope, layer, false); }
  std::string hf_name(Id id, int64_t layer = -1) const {
    return slot(id).hf.empty() ? std::string() : name(slot(id).hf, slot(id).scope, layer, true);
  }
  // A merged-experts slot's HF tensor for expert e.
  std::string hf_expert_name(Id id, int64_t layer, int64_t e) const {
    std::string n = hf_name(id, layer);
    return n.replace(n.find('*'), 1, std::to_string(e));
  }
  bool present(Id id, const H& h, int64_t layer = -1) const { return !slot(id).when || slot(id).when(h, layer); }
  // As a matrix: cols = ne[0], rows = the other dims' product (one expert's rows: per_expert_rows).
  int64_t cols(Id id, const H& h) const { return slot(id).ne[0](h); }
  int64_t rows(Id id, const H& h) const { return dim(slot(id), 1, h) * dim(slot(id), 2, h); }
  int64_t per_expert_rows(Id id, const H& h) const { return dim(slot(id), 1, h); }

  // Every tensor written to a file, in file order, for layers [0, n_layers).
  std::vector<TensorSpec> specs(const H& h, int64_t n_layers) const {
    std::vector<TensorSpec> out;
    for (size_t i = 0; i < slots_.size();) {
      if (slots_[i].scope == SlotScope::kGlobal) {
        add(out, static_cast<Id>(i++), h, -1);
        continue;
      }
      size_t end = i;
      while (end < slots_.size() && slots_[end].scope == SlotScope::kLayer) ++end;
      for (int64_t l = 0; l < n_layers; ++l)
        for (size_t j = i; j < end; ++j) add(out, static_cast<Id>(j), h, l);
      i = end;
    }
    return out;
  }

  // Binding through WeightBinder by slot: GGUF name first, then the HF one.
  kernels::MatrixView matrix(WeightBinder& b, Id id, const H& h, int64_t layer = -1) const {
    return b.matrix(gguf_name(id, layer), hf_name(id, layer), rows(id, h), cols(id, h));
  }
  const float* vec(WeightBinder& b, Id id, const H& h, int64_t layer = -1) const {
    return b.vec(gguf_name(id, layer), hf_name(id, layer), cols(id, h));
  }
  bool has(WeightBinder& b, Id id, int64_t layer = -1) const { return b.has(gguf_name(id, layer), ""); }

 private:
  static std::string name(std::string_view base, SlotScope scope, int64_t layer, bool hf) {
    if (scope == SlotScope::kGlobal) return std::string(base);
    return (hf ? hf_layer_prefix(layer) : layer_prefix(layer)) + std::string(base);
  }
  static int64_t dim(const TensorSlot<H>& s, int i, const H& h) { return s.ne[static_cast<size_t>(i)] ? s.ne[static_cast<size_t>(i)](h) : 1; }

  void add(std::vector<TensorSpec>& out, Id id, const H& h, int64_t layer) const {
    const TensorSlot<H>& s = slot(id);
    if (s.source == SlotSource::kAlternative || !present(id, h, layer)) return;
    TensorSpec t;
    t.gguf_name = gguf_name(id, layer);
    t.hf_name = s.source == SlotSource::kSelf ? hf_name(id, layer) : std::string();
    for (const HDim<H>& d : s.ne)
      if (d) t.ne.push_back(d(h));
    t.init = s.init;
    const bool vector_like = s.init == TensorInit::kNormWeight || s.init == TensorInit::kBias;
    t.fan_in = s.fan_in ? s.fan_in(h) : vector_like ? 1 : t.ne[0];
    t.quantizable = s.quantizable;
    t.source = s.source;
    if (s.source == SlotSource::kMergedExperts)
      for (int64_t e = 0; e < t.ne[2]; ++e) t.hf_parts.push_back(hf_expert_name(id, layer, e));
    if (s.source == SlotSource::kKeyOfJoint || s.source == SlotSource::kValueOfJoint)
      for (size_t j = 0; j < slots_.size(); ++j)
        if (slots_[j].source == SlotSource::kAlternative) {
          t.joint_gguf = gguf_name(static_cast<Id>(j), layer);
          t.joint_hf = hf_name(static_cast<Id>(j), layer);
        }
    out.push_back(std::move(t));
  }

  std::span<const TensorSlot<H>> slots_;
};

}  // namespace dseek
