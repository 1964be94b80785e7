// See export.h. The trainer keeps kv_b joint ([H*(Dn+Dv) x Ckv], DeepSeek's
// layout) and experts as separate matrices; the GGUF has W_UK / W_UV split
// per head (W_UK transposed) and experts merged into 3-D tensors, exactly as
// the DeepSeek tensor table (model/arch/deepseek.cpp) declares them: each
// TensorSpec's `source` says which conversion applies.
#include "train/export.h"

#include <cstring>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/arch_util.h"
#include "model/random_model.h"
#include "tokenizer/vocab_import.h"
#include "train/backward/param_shape.h"

namespace dseek::train {
namespace {

// k_b[h][c][d] = W_UK[h][d][c] and v_b[h][d][c] = W_UV[h][d][c], W = the joint
// kv_b [H][(Dn+Dv)][C]: index pairs (split, joint) of one per-head layout.
template <typename Fn>
void for_each_split_index(const DeepseekHParams& h, bool key, Fn fn) {
  const int64_t H = h.n_head, C = h.kv_lora_rank, Dn = h.d_nope, Dv = h.d_v, W = Dn + Dv;
  for (int64_t hh = 0; hh < H; ++hh)
    for (int64_t a = 0; a < (key ? C : Dv); ++a)
      for (int64_t b = 0; b < (key ? Dn : C); ++b)
        fn((hh * (key ? C : Dv) + a) * (key ? Dn : C) + b, key ? (hh * W + b) * C + a : (hh * W + Dn + a) * C + b);
}

bool is_split_of_joint(const TensorSpec& s) {
  return s.source == SlotSource::kKeyOfJoint || s.source == SlotSource::kValueOfJoint;
}

// The trainer keeps the expert-score bias of each MoE layer outside its parameters.
template <typename Ptr>
Result<Ptr> expert_bias(const std::vector<Ptr>& biases, const DeepseekHParams& h, const std::string& name) {
  const int64_t moe_index = layer_index(name) - h.n_dense_lead;
  if (moe_index < 0 || moe_index >= static_cast<int64_t>(biases.size())) return Status::error("no bias for " + name);
  return biases[static_cast<size_t>(moe_index)];
}

// The values of GGUF tensor `s` in row-major order of its ne (ne[0] innermost).
Result<std::vector<float>> gguf_values(const TrainModel<float>& m, const TensorSpec& s) {
  const DeepseekHParams& h = m.hparams();
  const std::string& name = s.gguf_name;
  if (const Param<float>* p = m.find(name)) return p->w;
  if (is_split_of_joint(s)) {
    const Param<float>* kv = m.find(s.joint_gguf);
    if (!kv) return Status::error("no kv_b for " + name);
    std::vector<float> out(static_cast<size_t>(s.ne[0] * s.ne[1] * s.ne[2]));
    for_each_split_index(h, s.source == SlotSource::kKeyOfJoint,
                         [&](int64_t split, int64_t joint) { out[static_cast<size_t>(split)] = kv->w[static_cast<size_t>(joint)]; });
    return out;
  }
  if (s.source == SlotSource::kMergedExperts) {
    std::vector<float> out;
    for (int64_t e = 0; e < h.n_expert; ++e) {
      const Param<float>* p = m.find(expert_param_name(name, e));
      if (!p) return Status::error("no expert " + std::to_string(e) + " for " + name);
      out.insert(out.end(), p->w.begin(), p->w.end());
    }
    return out;
  }
  if (s.init == TensorInit::kBias) {
    auto bias = expert_bias(m.expert_biases(), h, name);
    if (!bias.ok()) return bias.status();
    return **bias;
  }
  return Status::error("the trained model has no tensor " + name);
}

}  // namespace

Status export_gguf(const TrainModel<float>& m, const ExportOptions& opt, const std::string& path) {
  auto arch = deepseek_from_hparams(m.hparams());
  if (!arch.ok()) return arch.status();
  GgufWriter w;
  w.set("general.name", GgufValue::str(opt.name));
  if (!opt.description.empty()) w.set("general.description", GgufValue::str(opt.description));
  w.set("general.file_type", GgufValue::u32(static_cast<uint32_t>(dtype_traits(opt.dtype).ggml_id)));
  (*arch)->write_gguf_metadata(w);
  auto vocab = import_vocab(opt.tokenizer_path, "deepseek-v3", w);
  if (!vocab.ok()) return vocab.status();
  if (*vocab != m.hparams().n_vocab)
    return Status::error(opt.tokenizer_path + ": tokenizer has " + std::to_string(*vocab) + " tokens, the model " +
                         std::to_string(m.hparams().n_vocab));
  const std::vector<TensorSpec> specs = (*arch)->tensor_specs();
  std::vector<std::vector<float>> values;
  for (const TensorSpec& s : specs) {
    auto v = gguf_values(m, s);
    if (!v.ok()) return v.status();
    int64_t n = 1;
    for (int64_t d : s.ne) n *= d;
    if (static_cast<int64_t>(v->size()) != n) return Status::error(s.gguf_name + ": size mismatch in export");
    values.push_back(std::move(*v));
    w.add_tensor(s.gguf_name, storage_dtype(s, opt.dtype), s.ne);
  }
  return w.write(path, [&](size_t i, std::span<std::byte> out) -> Status {
    const DType dt = w.tensors()[i].dtype;
    const int64_t row = specs[i].ne[0], rows = static_cast<int64_t>(values[i].size()) / row;
    const uint64_t row_bytes = *dtype_bytes(dt, row);
    for (int64_t r = 0; r < rows; ++r)
      kernels::quantize_row(dt, values[i].data() + r * row, out.data() + static_cast<uint64_t>(r) * row_bytes, row);
    return ok_status();
  });
}

Result<std::unique_ptr<TrainModel<float>>> import_gguf(const std::string& path, int64_t max_seq) {
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  if (f->get_string("general.architecture").value_or("") != "deepseek2")
    return Status::error(path + ": training starts from DeepSeek-architecture (deepseek2) models only");
  auto h = deepseek_hparams_from_gguf(*f);
  if (!h.ok()) return h.status();
  if (h->yarn_factor > 0) h->yarn_factor = 0;  // trained without YaRN; positions stay within max_seq
  auto m = std::make_unique<TrainModel<float>>(*h, max_seq, 0);
  auto arch = deepseek_from_hparams(*h);
  if (!arch.ok()) return arch.status();
  for (const TensorSpec& spec : (*arch)->tensor_specs()) {
    const GgufTensorInfo* t = f->find_tensor(spec.gguf_name);
    if (!t) return Status::error(path + ": missing tensor " + spec.gguf_name);
    std::vector<float> v(static_cast<size_t>(t->n_elements()));
    const int64_t row = t->ne[0], rows = t->n_elements() / row;
    const uint64_t row_bytes = *dtype_bytes(t->dtype, row);
    const auto data = f->tensor_data(*t);
    for (int64_t r = 0; r < rows; ++r)
      kernels::dequantize_row(t->dtype, data.data() + static_cast<uint64_t>(r) * row_bytes, v.data() + r * row, row);
    const std::string& name = spec.gguf_name;
    if (Param<float>* p = m->find(name)) {
      if (static_cast<int64_t>(v.size()) != p->size()) return Status::error(path + ": " + name + " has the wrong size");
      p->w = std::move(v);
    } else if (is_split_of_joint(spec)) {
      Param<float>* kv = m->find(spec.joint_gguf);
      if (!kv) return Status::error(path + ": cannot place " + name);
      for_each_split_index(*h, spec.source == SlotSource::kKeyOfJoint,
                           [&](int64_t split, int64_t joint) { kv->w[static_cast<size_t>(joint)] = v[static_cast<size_t>(split)]; });
    } else if (spec.source == SlotSource::kMergedExperts) {
      const int64_t per = static_cast<int64_t>(v.size()) / h->n_expert;
      for (int64_t e = 0; e < h->n_expert; ++e) {
        Param<float>* p = m->find(expert_param_name(name, e));
        if (!p || p->size() != per) return Status::error(path + ": cannot place " + name);
        p->w.assign(v.begin() + e * per, v.begin() + (e + 1) * per);
      }
    } else if (spec.init == TensorInit::kBias) {
      auto bias = expert_bias(m->expert_biases(), *h, name);
      if (!bias.ok()) return Status::error(path + ": stray " + name);
      **bias = std::move(v);
    } else {
      return Status::error(path + ": tensor " + name + " has no place in the trainable model");
    }
  }
  return m;
}

Status save_checkpoint(TrainModel<float>& m, AdamW& opt, const std::string& config_json, const std::string& path) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("dseek-checkpoint"));
  w.set("dseek.train.step", GgufValue::u64(static_cast<uint64_t>(opt.steps_done())));
  w.set("dseek.train.config", GgufValue::str(config_json));
  std::vector<const std::vector<float>*> data;
  const auto params = m.params();
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t n = params[i]->size();
    for (const auto& [prefix, vec] : {std::pair{"p.", &params[i]->w}, std::pair{"m.", &opt.first_moments()[i]},
                                      std::pair{"v.", &opt.second_moments()[i]}}) {
      w.add_tensor(prefix + params[i]->name, DType::kF32, {n});
      data.push_back(vec);
    }
  }
  const auto biases = m.expert_biases();
  for (size_t i = 0; i < biases.size(); ++i) {
    w.add_tensor("bias." + std::to_string(i), DType::kF32, {static_cast<int64_t>(biases[i]->size())});
    data.push_back(biases[i]);
  }
  const std::string tmp = path + ".tmp";
  Status st = w.write(tmp, [&](size_t i, std::span<std::byte> out) -> Status {
    std::memcpy(out.data(), data[i]->data(), out.size());
    return ok_status();
  });
  if (!st.ok()) return st;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::error(path + ": cannot replace the checkpoint");
  return ok_status();
}

Status load_checkpoint(TrainModel<float>& m, AdamW& opt, const std::string& config_json, const std::string& path) {
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  if (f->get_string("dseek.train.config").value_or("") != config_json)
    return Status::error(path + ": this checkpoint was made with a different config");
  auto fill = [&](const std::string& name, std::vector<float>& dst) -> Status {
    const GgufTensorInfo* t = f->find_tensor(name);
    if (!t || t->dtype != DType::kF32 || t->n_elements() != static_cast<int64_t>(dst.size()))
      return Status::error(path + ": missing or mis-shaped tensor " + name);
    std::memcpy(dst.data(), f->tensor_data(*t).data(), dst.size() * sizeof(float));
    return ok_status();
  };
  const auto params = m.params();
  for (size_t i = 0; i < params.size(); ++i) {
    for (Status st : {fill("p." + params[i]->name, params[i]->w), fill("m." + params[i]->name, opt.first_moments()[i]),
                      fill("v." + params[i]->name, opt.second_moments()[i])})
      if (!st.ok()) return st;
  }
  const auto biases = m.expert_biases();
  for (size_t i = 0; i < biases.size(); ++i)
    if (Status st = fill("bias." + std::to_string(i), *biases[i]); !st.ok()) return st;
  opt.set_steps_done(f->get_int("dseek.train.step").value_or(0));
  return ok_status();
}

}  // namespace dseek::train
