// See export.h. The trainer keeps kv_b joint ([H*(Dn+Dv) x Ckv], DeepSeek's
// kv_b_proj) and experts as separate matrices; the GGUF has attn_k_b /
// attn_v_b split per head (k_b transposed) and experts merged into 3-D
// tensors, exactly as model/arch_deepseek.cpp declares them.
#include "train/export.h"

#include <cstring>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/random_model.h"
#include "tokenizer/vocab_import.h"

namespace dseek::train {
namespace {

// The values of GGUF tensor `name` in row-major order of its ne (ne[0] innermost).
Result<std::vector<float>> gguf_values(const TrainModel<float>& m, const std::string& name) {
  const DeepseekHParams& h = m.hparams();
  if (const Param<float>* p = m.find(name)) return p->w;
  std::string stem = name;
  for (const char* suffix : {".weight", ".bias"})
    if (stem.ends_with(suffix)) stem.resize(stem.size() - std::char_traits<char>::length(suffix));
  const auto slash = stem.rfind('.');
  const std::string block = stem.substr(0, slash + 1), what = stem.substr(slash + 1);
  if (what == "attn_k_b" || what == "attn_v_b") {
    const Param<float>* kv = m.find(block + "attn_kv_b.weight");
    if (!kv) return Status::error("no kv_b for " + name);
    const int64_t H = h.n_head, C = h.kv_lora_rank, Dn = h.d_nope, Dv = h.d_v, W = Dn + Dv;
    std::vector<float> out;
    if (what == "attn_k_b") {  // [H][C][Dn]: k_b[h][c][d] = W_UK[h][d][c]
      out.resize(static_cast<size_t>(H * C * Dn));
      for (int64_t hh = 0; hh < H; ++hh)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t d = 0; d < Dn; ++d) out[static_cast<size_t>((hh * C + c) * Dn + d)] = kv->w[static_cast<size_t>((hh * W + d) * C + c)];
    } else {  // [H][Dv][C]
      for (int64_t hh = 0; hh < H; ++hh)
        for (int64_t d = 0; d < Dv; ++d)
          out.insert(out.end(), kv->w.begin() + (hh * W + Dn + d) * C, kv->w.begin() + (hh * W + Dn + d + 1) * C);
    }
    return out;
  }
  if (what == "ffn_gate_exps" || what == "ffn_up_exps" || what == "ffn_down_exps") {
    std::vector<float> out;
    for (int64_t e = 0; e < h.n_expert; ++e) {
      const Param<float>* p = m.find(block + what + "." + std::to_string(e));
      if (!p) return Status::error("no expert " + std::to_string(e) + " for " + name);
      out.insert(out.end(), p->w.begin(), p->w.end());
    }
    return out;
  }
  if (what == "exp_probs_b") {
    const int64_t layer = std::stoll(block.substr(4));
    const auto biases = m.expert_biases();
    const int64_t moe_index = layer - h.n_dense_lead;
    if (moe_index < 0 || moe_index >= static_cast<int64_t>(biases.size())) return Status::error("no bias for " + name);
    return *biases[static_cast<size_t>(moe_index)];
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
    auto v = gguf_values(m, s.gguf_name);
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
  const int64_t H = h->n_head, C = h->kv_lora_rank, Dn = h->d_nope, Dv = h->d_v, W = Dn + Dv;
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
    const auto block_end = name.find('.', 4);
    const std::string block = name.substr(0, block_end + 1);
    if (Param<float>* p = m->find(name)) {
      if (static_cast<int64_t>(v.size()) != p->size()) return Status::error(path + ": " + name + " has the wrong size");
      p->w = std::move(v);
    } else if (name.ends_with("attn_k_b.weight") || name.ends_with("attn_v_b.weight")) {
      Param<float>* kv = m->find(block + "attn_kv_b.weight");
      const bool k = name.ends_with("attn_k_b.weight");
      for (int64_t hh = 0; hh < H; ++hh)
        for (int64_t a = 0; a < (k ? C : Dv); ++a)
          for (int64_t b = 0; b < (k ? Dn : C); ++b) {
            const float x = v[static_cast<size_t>((hh * (k ? C : Dv) + a) * (k ? Dn : C) + b)];
            if (k) kv->w[static_cast<size_t>((hh * W + b) * C + a)] = x;        // k_b[h][c][d] = W_UK[h][d][c]
            else kv->w[static_cast<size_t>((hh * W + Dn + a) * C + b)] = x;     // v_b[h][d][c]
          }
    } else if (name.find("_exps.weight") != std::string::npos) {
      const std::string what = name.substr(block.size(), name.size() - block.size() - 7);
      const int64_t per = static_cast<int64_t>(v.size()) / h->n_expert;
      for (int64_t e = 0; e < h->n_expert; ++e) {
        Param<float>* p = m->find(block + what + "." + std::to_string(e));
        if (!p || p->size() != per) return Status::error(path + ": cannot place " + name);
        p->w.assign(v.begin() + e * per, v.begin() + (e + 1) * per);
      }
    } else if (name.ends_with("exp_probs_b.bias")) {
      const int64_t layer = std::stoll(name.substr(4, block_end - 4));
      auto biases = m->expert_biases();
      const int64_t index = layer - h->n_dense_lead;
      if (index < 0 || index >= static_cast<int64_t>(biases.size())) return Status::error(path + ": stray " + name);
      *biases[static_cast<size_t>(index)] = std::move(v);
    } else {
      return Status::error(path + ": tensor " + name + " has no place in the trainable model");
    }
  }
  return m;
}

}  // namespace dseek::train
