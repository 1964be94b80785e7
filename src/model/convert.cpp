// See convert.h.
#include "model/convert.h"

#include <filesystem>
#include <functional>
#include <map>

#include "kernels/kernels.h"
#include "model/random_model.h"
#include "tokenizer/vocab_import.h"

namespace dseek {
namespace {

// Reads one row (ne[0] floats) of an output tensor at a time.
using RowReader = std::function<Status(int64_t row, float* out)>;

// A source matrix [rows x cols] (any stored type, FP8 with its block scales).
struct SourceMatrix {
  const WeightView* w = nullptr;
  const float* scale = nullptr;  // FP8 weight_scale_inv
  int64_t rows = 0, cols = 0;
  void read(int64_t r, float* out) const {
    const uint64_t row_bytes = *dtype_bytes(w->dtype, cols);
    if (scale) {
      kernels::dequantize_fp8_block_row(reinterpret_cast<const uint8_t*>(w->data.data()), scale, rows, cols, r, out);
    } else {
      kernels::dequantize_row(w->dtype, w->data.data() + static_cast<uint64_t>(r) * row_bytes, out, cols);
    }
  }
};

class Converter {
 public:
  Converter(const ModelFiles& in) : in_(in) {}

  // The source matrix named `name` with `cols` columns, or an error.
  Result<SourceMatrix> source(const std::string& name, int64_t cols) const {
    const WeightView* w = in_.weights.find(name);
    if (!w) return Status::error(in_.path + ": missing tensor '" + name + "'");
    if (w->shape.empty() || w->shape.back() != cols || w->n_elements() % cols != 0)
      return Status::error(in_.path + ": tensor '" + name + "' does not have " + std::to_string(cols) + " columns");
    SourceMatrix m{w, nullptr, w->n_elements() / cols, cols};
    if (w->dtype == DType::kF8E4M3) {
      const WeightView* s = in_.weights.find(name + "_scale_inv");
      const int64_t want = ((m.rows + 127) / 128) * ((cols + 127) / 128);
      if (!s || s->dtype != DType::kF32 || s->n_elements() != want)
        return Status::error(in_.path + ": FP8 tensor '" + name + "' has no matching " + name + "_scale_inv");
      m.scale = reinterpret_cast<const float*>(s->data.data());
    }
    return m;
  }

  // How to produce the rows of `spec` from the input.
  Result<RowReader> reader(const TensorSpec& spec) {
    const int64_t cols = spec.ne[0];
    for (const std::string& name : {spec.gguf_name, spec.hf_name}) {
      if (name.empty() || !in_.weights.find(name)) continue;
      auto m = source(name, cols);
      if (!m.ok()) return m.status();
      return RowReader([m = m.value()](int64_t r, float* out) { m.read(r, out); return ok_status(); });
    }
    if (spec.source == SlotSource::kMergedExperts) return expert_reader(spec);
    if (spec.source == SlotSource::kKeyOfJoint || spec.source == SlotSource::kValueOfJoint) return kv_b_reader(spec);
    const std::string& g = spec.gguf_name;
    return Status::error(in_.path + ": no tensor for '" + g + "'" + (spec.hf_name.empty() ? "" : " ('" + spec.hf_name + "')"));
  }

 private:
  // Merged experts [X][rows_e][cols] from HF's per-expert tensors.
  Result<RowReader> expert_reader(const TensorSpec& spec) {
    const int64_t X = spec.ne[2], rows_e = spec.ne[1];
    std::vector<SourceMatrix> experts;
    for (int64_t e = 0; e < X; ++e) {
      auto m = source(spec.hf_parts[static_cast<size_t>(e)], spec.ne[0]);
      if (!m.ok()) return m.status();
      if (m->rows != rows_e) return Status::error(in_.path + ": expert tensor shape does not match the config");
      experts.push_back(m.value());
    }
    return RowReader([experts, rows_e](int64_t r, float* out) {
      experts[static_cast<size_t>(r / rows_e)].read(r % rows_e, out);
      return ok_status();
    });
  }

  // The split W_UK^T per head ([H][Ckv][Dn]) and W_UV ([H][Dv][Ckv]) from the joint
  // kv_b [H*(Dn+Dv)][Ckv]; one layer's kv_b is dequantised once and kept.
  Result<RowReader> kv_b_reader(const TensorSpec& spec) {
    const bool is_k = spec.source == SlotSource::kKeyOfJoint;
    const int64_t H = spec.ne[2], Ckv = is_k ? spec.ne[1] : spec.ne[0], Dn_or_Dv = is_k ? spec.ne[0] : spec.ne[1];
    auto m = source(in_.weights.find(spec.joint_hf) ? spec.joint_hf : spec.joint_gguf, Ckv);
    if (!m.ok()) return m.status();
    if (m->rows % H != 0) return Status::error(in_.path + ": kv_b rows are not a multiple of the head count");
    const int64_t per_head = m->rows / H;  // Dn + Dv
    if (cached_name_ != m->w->name) {
      cached_.resize(static_cast<size_t>(m->rows * Ckv));
      for (int64_t r = 0; r < m->rows; ++r) m->read(r, cached_.data() + r * Ckv);
      cached_name_ = m->w->name;
    }
    const float* kv = cached_.data();
    const int64_t Dn = is_k ? Dn_or_Dv : per_head - Dn_or_Dv;
    if (is_k)  // row (h, c): k_b[h][c][i] = kv_b[h*(Dn+Dv) + i][c]
      return RowReader([=](int64_t r, float* out) {
        const int64_t h = r / Ckv, c = r % Ckv;
        for (int64_t i = 0; i < Dn; ++i) out[i] = kv[(h * per_head + i) * Ckv + c];
        return ok_status();
      });
    return RowReader([=](int64_t r, float* out) {  // row (h, j): v_b[h][j] = kv_b[h*(Dn+Dv) + Dn + j]
      const int64_t h = r / Dn_or_Dv, j = r % Dn_or_Dv;
      std::copy(kv + (h * per_head + Dn + j) * Ckv, kv + (h * per_head + Dn + j + 1) * Ckv, out);
      return ok_status();
    });
  }

  const ModelFiles& in_;
  std::string cached_name_;
  std::vector<float> cached_;
};

// MXFP4 source tensors (DeepSeek-V4's routed experts) are written as they
// are, bit for bit: dseek has no MXFP4 writer, and re-quantising 4-bit
// weights to another type could only lose precision.
const WeightView* kept_mxfp4(const ModelFiles& in, const TensorSpec& s) {
  const WeightView* v = in.weights.find(s.gguf_name);
  return v && v->dtype == DType::kMXFP4 ? v : nullptr;
}

std::string default_pre(std::string_view arch) {
  if (arch == "deepseek-v3") return "deepseek-v3";
  if (arch == "deepseek-v2") return "deepseek-llm";
  if (arch == "qwen2") return "qwen2";
  return "llama-bpe";
}

}  // namespace

Status convert_to_gguf(const ModelFiles& in, const ConvertOptions& opt, const std::string& out_path,
                       const GgufWriter::ProgressFn& progress) {
  if (!in.arch) return Status::error(in.path + ": cannot convert: " + in.arch_error);
  GgufWriter w;
  if (in.gguf) {
    for (const auto& [k, v] : in.gguf->metadata())
      if (k.rfind("general.alignment", 0) != 0) w.set(k, v);
  } else if (!in.tokenizer_json.empty()) {
    auto n = import_vocab(in.tokenizer_json, opt.tokenizer_pre.empty() ? default_pre(in.arch->name()) : opt.tokenizer_pre, w);
    if (!n.ok()) return n.status();
  }
  in.arch->write_gguf_metadata(w);
  w.set("general.file_type", GgufValue::u32(static_cast<uint32_t>(dtype_traits(opt.type).ggml_id)));
  const std::vector<TensorSpec> specs = in.arch->tensor_specs();
  Converter conv(in);
  for (const auto& s : specs)
    w.add_tensor(s.gguf_name, kept_mxfp4(in, s) ? DType::kMXFP4 : storage_dtype(s, opt.type_of ? opt.type_of(s.gguf_name) : opt.type), s.ne);
  std::vector<float> row;
  return w.write(
      out_path,
      [&](size_t i, std::span<std::byte> out) -> Status {
        const TensorSpec& s = specs[i];
        if (const WeightView* v = kept_mxfp4(in, s)) {
          if (v->data.size() != out.size()) return Status::error(in.path + ": MXFP4 tensor '" + v->name + "' has the wrong size");
          std::copy(v->data.begin(), v->data.end(), out.begin());
          return ok_status();
        }
        auto rd = conv.reader(s);
        if (!rd.ok()) return rd.status();
        const DType dt = w.tensors()[i].dtype;
        const int64_t cols = s.ne[0], rows = w.tensors()[i].n_elements() / cols;
        const uint64_t row_bytes = *dtype_bytes(dt, cols);
        row.resize(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
          Status st = (*rd)(r, row.data());
          if (!st.ok()) return st;
          const float* imp = opt.importance ? opt.importance(s.gguf_name, s.ne, r) : nullptr;
          kernels::quantize_row_weighted(dt, row.data(), imp, out.data() + static_cast<uint64_t>(r) * row_bytes, cols);
        }
        return ok_status();
      },
      progress);
}

}  // namespace dseek
